import { createHash } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir } from './support/cli.js';
import { parseMail } from './support/smtp.js';

// The repository's demo job, run in a copy: .eml files instead of a mail server.
let dir: string;
const users = readFileSync(join(ROOT, 'jobs/data/new-users.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
const valid = users.filter((u) => u.email!.includes('@'));
const hashOf = (key: string) => createHash('sha256').update(`welcome-emails\n${key}`).digest('hex').slice(0, 32);
const run = (...args: string[]) => sluice(['run', join(dir, 'welcome-emails.yaml'), '--progress', 'none', ...args], { timeoutMs: 30_000 });
const mailDir = () => join(dir, 'out/mail');

beforeAll(() => {
  dir = tempDir('sluice-email-demo-');
  cpSync(join(ROOT, 'jobs/welcome-emails.yaml'), join(dir, 'welcome-emails.yaml'));
  cpSync(join(ROOT, 'jobs/templates'), join(dir, 'templates'), { recursive: true });
  cpSync(join(ROOT, 'jobs/data/new-users.jsonl'), join(dir, 'data/new-users.jsonl'));
});

describe('jobs/welcome-emails.yaml (transport: file)', () => {
  it('--dry-run renders every message but writes no .eml file and records no key', async () => {
    const result = await run('--dry-run');
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(mailDir())).toBe(false);
    expect(existsSync(join(dir, '.sluice'))).toBe(false);
  });

  it('writes one .eml per user, named by the hash in its Message-ID; the bad address is dead-lettered', async () => {
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(mailDir()).sort()).toEqual(valid.map((u) => `${hashOf(u.id!)}.eml`).sort());
    for (const user of valid) {
      const mail = await parseMail(readFileSync(join(mailDir(), `${hashOf(user.id!)}.eml`)));
      expect(mail.messageId).toBe(`<${hashOf(user.id!)}@sluice.local>`);
      expect(mail.subject).toBe(`Welcome to Acme, ${user.firstName}!`);
      expect(mail.to && !Array.isArray(mail.to) ? mail.to.value : undefined).toEqual([{ name: user.name, address: user.email }]);
      expect(mail.html).toContain(`<h1>Welcome to Acme, ${user.firstName}!</h1>`);
      expect(mail.html).toContain(`Your ${user.plan} account is ready.`);
      expect(mail.text).toContain(`your ${user.plan} account is ready.`);
      expect(mail.headers.get('x-campaign')).toBe(`welcome-${user.plan}`);
    }
    const rejects = readFileSync(join(dir, 'out/welcome-emails.rejects.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects).toHaveLength(1);
    expect(rejects[0].error).toMatch(/to: "No Address <not-an-address>" is not an email address/);
  });

  it('a --fresh rerun writes nothing; --fresh --resend writes every message again', async () => {
    const mtimes = () => readdirSync(mailDir()).map((f) => statSync(join(mailDir(), f)).mtimeMs).sort().join();
    const before = mtimes();
    await new Promise((r) => setTimeout(r, 20));
    const fresh = await run('--fresh');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(mtimes()).toBe(before);
    const resend = await run('--fresh', '--resend');
    expect(resend.code, resend.stderr).toBe(0);
    expect(mtimes()).not.toBe(before);
    expect(readdirSync(mailDir())).toHaveLength(valid.length);
  });
});
