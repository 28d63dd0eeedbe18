import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { startSmtpServer, type SmtpTestServer } from './support/smtp.js';

const COUNT = 500;
const users = Array.from({ length: COUNT }, (_, i) => ({
  id: `u${i}`,
  name: `User ${i}`,
  email: `user${i}@example.test`,
  plan: ['free', 'pro', 'team'][i % 3],
  nickname: i % 7 === 0 ? `<b>nick${i}</b>` : null,
  invoice: i % 50 === 0 ? `invoices/u${i}.txt` : null,
}));

const job = `version: 1
name: welcome-500
batch: { size: 100 }
source:
  use: file
  with: { path: users.jsonl }
sink:
  id: welcome
  use: email
  with:
    smtp: \${env:SMTP_URL}
    from: Acme <hello@acme.test>
    to: "{{ record.name }} <{{ record.email }}>"
    bcc: "{{ record.plan == 'team' ? 'audit@acme.test' : '' }}"
    subject: "Welcome {{ record.name }} ({{ record.plan }})"
    text: "Hi {{ record.name }}, your {{ record.plan }} plan is ready."
    htmlFile: templates/welcome.html
    headers: { X-Plan: "{{ record.plan }}" }
    attachments: record.invoice
    key: record.id
  concurrency: 8
`;

const messageIdOf = (job: string, key: string) => `<${createHash('sha256').update(`${job}\n${key}`).digest('hex').slice(0, 32)}@sluice.local>`;

let dir: string;
let server: SmtpTestServer;

beforeAll(async () => {
  dir = tempDir('sluice-email-');
  writeFileSync(join(dir, 'users.jsonl'), users.map((u) => JSON.stringify(u)).join('\n') + '\n');
  mkdirSync(join(dir, 'templates'));
  mkdirSync(join(dir, 'invoices'));
  for (const u of users) if (u.invoice) writeFileSync(join(dir, u.invoice), `invoice for ${u.id}\n`);
  writeFileSync(join(dir, 'templates/welcome.html'), "<p>Hello {{ record.name }}, aka {{ record.nickname ?? 'friend' }}</p>\n");
  writeFileSync(join(dir, 'job.yaml'), job);
  server = await startSmtpServer({ parse: true });
});

afterAll(async () => {
  await server?.close();
});

const run = (...args: string[]) =>
  sluice(['run', join(dir, 'job.yaml'), '--progress', 'none', ...args], { env: { SMTP_URL: server.url }, timeoutMs: 60_000 });

describe('email sink over SMTP', () => {
  it('delivers 500 messages rendered from their records, one per key, with a Message-ID derived from the key', async () => {
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    expect(server.received).toHaveLength(COUNT);
    const byId = server.byMessageId();
    expect(byId.size).toBe(COUNT);
    for (const user of users) {
      const mails = byId.get(messageIdOf('welcome-500', user.id));
      expect(mails, user.id).toHaveLength(1);
      const mail = mails![0]!;
      const parsed = mail.parsed!;
      expect(parsed.subject).toBe(`Welcome ${user.name} (${user.plan})`);
      expect(parsed.from?.value).toEqual([{ name: 'Acme', address: 'hello@acme.test' }]);
      expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value : undefined).toEqual([{ name: user.name, address: user.email }]);
      expect(mail.envelope.from).toBe('hello@acme.test');
      expect(mail.envelope.to).toEqual(user.plan === 'team' ? [user.email, 'audit@acme.test'] : [user.email]);
      expect(parsed.headers.has('bcc')).toBe(false);
      expect(parsed.text?.trim()).toBe(`Hi ${user.name}, your ${user.plan} plan is ready.`);
      // Values in HTML are escaped: a record cannot inject markup.
      const nick = user.nickname ? user.nickname.replace(/</g, '&lt;').replace(/>/g, '&gt;') : 'friend';
      expect(parsed.html).toBe(`<p>Hello ${user.name}, aka ${nick}</p>\n`);
      expect(parsed.headers.get('x-plan')).toBe(user.plan);
      if (user.invoice) {
        expect(parsed.attachments.map((a) => [a.filename, a.content.toString()])).toEqual([[`${user.id}.txt`, `invoice for ${user.id}\n`]]);
      } else {
        expect(parsed.attachments).toEqual([]);
      }
    }
  });

  it('a rerun, and a --fresh rerun, send nothing: every key is in the ledger', async () => {
    const before = server.received.length;
    const again = await run();
    expect(again.code, again.stderr).toBe(0);
    const fresh = await run('--fresh');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(server.received.length).toBe(before);
    const report = join(dir, 'report.json');
    const withReport = await run('--fresh', '--report', report);
    expect(withReport.code).toBe(0);
    const summary = JSON.parse(readFileSync(report, 'utf8'));
    // Skipped keys are not failures: the equation still balances.
    expect(summary.counters).toMatchObject({ read: COUNT, written: COUNT, deadLettered: 0 });
    expect(server.received.length).toBe(before);
  });

  it('--fresh --resend forgets the ledger and mails every key again, with the same Message-IDs', async () => {
    const before = server.received.length;
    const result = await run('--fresh', '--resend');
    expect(result.code, result.stderr).toBe(0);
    expect(server.received.length).toBe(before + COUNT);
    for (const [, mails] of server.byMessageId()) expect(mails).toHaveLength(2);
  });

  it('--dry-run renders every message, sends nothing and records nothing', async () => {
    const before = server.received.length;
    const result = await run('--fresh', '--resend', '--dry-run');
    expect(result.code, result.stderr).toBe(0);
    expect(server.received.length).toBe(before);
    // The ledger is untouched by the dry run: a plain --fresh still skips every key.
    const fresh = await run('--fresh');
    expect(fresh.code).toBe(0);
    expect(server.received.length).toBe(before);
  });
});
