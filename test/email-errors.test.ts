import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { seeded, sluice, tempDir } from './support/cli.js';
import { startSmtpServer, type SmtpTestServer } from './support/smtp.js';

const messageIdOf = (job: string, key: string) => `<${createHash('sha256').update(`${job}\n${key}`).digest('hex').slice(0, 32)}@sluice.local>`;
const servers: SmtpTestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function project(files: Record<string, string>): string {
  const dir = tempDir('sluice-email-err-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const jsonl = (records: object[]) => records.map((r) => JSON.stringify(r)).join('\n') + '\n';
const deadLetters = (path: string) =>
  existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { error: string; record: { id: string } }) : [];

describe('email sink: SMTP failures', () => {
  it('retries 451s and dropped connections; dead-letters 550s with the server text; everything else arrives exactly once', async () => {
    const random = seeded(11);
    const banned = new Set(['user17@example.test', 'user242@example.test']);
    const server = await startSmtpServer({
      onRecipient: (address) => (banned.has(address) ? { code: 550, message: `5.1.1 <${address}>: Recipient address rejected: User unknown` } : undefined),
      onMessage: () => {
        const r = random();
        if (r < 0.1) return { code: 451, message: '4.3.0 Temporary local problem, try again' };
        if (r < 0.13) return 'drop';
        return undefined;
      },
    });
    servers.push(server);
    const COUNT = 300;
    const users = Array.from({ length: COUNT }, (_, i) => ({ id: `k${i}`, email: `user${i}@example.test` }));
    const dir = project({
      'users.jsonl': jsonl(users),
      'job.yaml': `version: 1
name: flaky
batch: { size: 50 }
source: { use: file, with: { path: users.jsonl } }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    from: hello@acme.test
    to: "{{ record.email }}"
    subject: "Hi {{ record.id }}"
    text: "Hello"
  concurrency: 6
  retry: { attempts: 5, initialDelay: 20ms, maxDelay: 200ms }
  onError: deadLetter
deadLetter: { use: file, with: { path: out/rejects.jsonl } }
`,
    });
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none', '--report', join(dir, 'report.json')], {
      env: { SMTP_URL: server.url },
      timeoutMs: 90_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(server.stats.refused).toBeGreaterThan(10);
    expect(server.stats.dropped).toBeGreaterThan(3);

    const byId = server.byMessageId();
    for (const user of users) {
      const mails = byId.get(messageIdOf('flaky', user.id)) ?? [];
      expect(mails.length, user.id).toBe(banned.has(user.email) ? 0 : 1);
    }
    expect(server.received).toHaveLength(COUNT - 2);

    const dead = deadLetters(join(dir, 'out/rejects.jsonl'));
    expect(dead.map((d) => d.record.id).sort()).toEqual(['k17', 'k242']);
    for (const d of dead) expect(d.error).toMatch(/550 5\.1\.1 <user(17|242)@example\.test>: Recipient address rejected: User unknown/);
    const summary = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(summary.counters).toMatchObject({ read: COUNT, written: COUNT - 2, deadLettered: 2 });
  });

  it('a message deferred (451) on every attempt is dead-lettered alone; the rest of its batch counts as written', async () => {
    const server = await startSmtpServer({
      onMessage: ({ envelope }) =>
        envelope.to.includes('user3@example.test') ? { code: 451, message: '4.2.1 Mailbox busy, try later' } : undefined,
    });
    servers.push(server);
    const users = Array.from({ length: 10 }, (_, i) => ({ id: `k${i}`, email: `user${i}@example.test` }));
    const dir = project({
      'users.jsonl': jsonl(users),
      'job.yaml': `version: 1
name: deferred
batch: { size: 10 }
source: { use: file, with: { path: users.jsonl } }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    from: hello@acme.test
    to: "{{ record.email }}"
    subject: "Hi"
    text: "Hello"
  concurrency: 3
  retry: { attempts: 2, initialDelay: 10ms, maxDelay: 20ms }
  onError: deadLetter
deadLetter: { use: file, with: { path: out/rejects.jsonl } }
`,
    });
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none', '--report', join(dir, 'report.json')], { env: { SMTP_URL: server.url }, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(server.received).toHaveLength(9);
    const dead = deadLetters(join(dir, 'out/rejects.jsonl'));
    expect(dead.map((d) => d.record.id)).toEqual(['k3']);
    expect(dead[0]!.error).toMatch(/not sent after 2 attempts: .*451/);
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).counters).toMatchObject({ read: 10, written: 9, deadLettered: 1 });
  });

  it('STARTTLS and AUTH with secrets from the environment; the password never shows, a wrong one stops the start', async () => {
    const server = await startSmtpServer({ auth: { user: 'mailer', pass: 'S3cret-pa55word' } });
    servers.push(server);
    const job = `version: 1
name: tls-auth
source: { use: file, with: { path: users.jsonl } }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    auth:
      user: \${env:SMTP_USER}
      pass: \${env:SMTP_PASS}
    requireTLS: true
    tls: { rejectUnauthorized: false }   # smtp-server's self-signed test certificate
    from: hello@acme.test
    to: "{{ record.email }}"
    subject: "Hi"
    text: "Hello"
`;
    const dir = project({ 'users.jsonl': jsonl([{ id: 1, email: 'a@example.test' }, { id: 2, email: 'b@example.test' }]), 'job.yaml': job });
    const env = { SMTP_URL: server.url, SMTP_USER: 'mailer', SMTP_PASS: 'S3cret-pa55word' };
    const ok = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'json'], { env, timeoutMs: 30_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(server.received).toHaveLength(2);
    expect(ok.stdout + ok.stderr).not.toContain('S3cret');

    const wrong = await sluice(['run', join(dir, 'job.yaml'), '--fresh', '--resend', '--progress', 'json'], {
      env: { ...env, SMTP_PASS: 'wrong-Pa55word' },
      timeoutMs: 30_000,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/cannot use the SMTP server .*: Invalid login: 535 5\.7\.8/);
    expect(wrong.stdout + wrong.stderr).not.toContain('wrong-Pa55word');
    expect(server.received).toHaveLength(2);
  });
});

describe('email sink: mistakes in the job and in records', () => {
  const base = (extra: string, options: { checkpoint?: string } = {}) => `version: 1
name: mistakes
${options.checkpoint ?? ''}
source: { use: file, with: { path: users.jsonl } }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    from: hello@acme.test
${extra}
  onError: deadLetter
deadLetter: { use: file, with: { path: out/rejects.jsonl } }
`;

  const invalid: Array<[string, string, RegExp]> = [
    ['an unclosed {{', '    to: "{{ record.email"\n    subject: s\n    text: t', /with\.to: invalid template: unclosed `\{\{`/],
    ['a missing to', '    subject: s\n    text: t', /missing required key 'to'/],
    ['no body', '    to: a@b.test\n    subject: s', /a message needs a body/],
    ['html and htmlFile', '    to: a@b.test\n    subject: s\n    html: x\n    htmlFile: t.html', /give html or htmlFile, not both/],
    ['a static bad address', '    to: not-an-address\n    subject: s\n    text: t', /with\.to: "not-an-address" is not an email address/],
    ['a reserved header', '    to: a@b.test\n    subject: s\n    text: t\n    headers: { Message-ID: "<x@y>" }', /header Message-ID is set by the email sink/],
    ['a misspelt option', '    to: a@b.test\n    subject: s\n    htmlfile: t.html', /unknown key 'htmlfile'; did you mean 'htmlFile'\?/],
  ];
  // One `sluice validate` over every case: each file's diagnostics are checked on their own.
  let validated: Map<string, string> | undefined;
  const validateAll = async () => {
    if (validated) return validated;
    const files = Object.fromEntries(invalid.map(([, extra], i) => [`case${i}.yaml`, base(extra)]));
    const dir = project({ 'users.jsonl': '', ...files });
    const result = await sluice(['validate', join(dir, 'case*.yaml'), '--format', 'json'], { env: { SMTP_URL: 'smtp://127.0.0.1:2525' }, timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { files: Array<{ file: string; diagnostics: Array<{ line: number; col: number; path: string; message: string }> }> };
    validated = new Map(
      report.files.map((f) => [f.file.replace(/^.*\//, ''), f.diagnostics.map((d) => `${d.line}:${d.col}  ${d.path}: ${d.message}`).join('\n')]),
    );
    return validated;
  };

  it.each(invalid.map(([name, , message], i) => [name, i, message] as const))('sluice validate reports %s', async (_name, i, message) => {
    const diagnostics = (await validateAll()).get(`case${i}.yaml`);
    expect(diagnostics).toMatch(message);
    expect(diagnostics).toMatch(/^\d+:\d+ {2}sink\.with/);
  });

  it('sluice validate: the smtp URL must be smtp:// or smtps://, and is never echoed', async () => {
    const dir = project({ 'users.jsonl': '', 'job.yaml': base('    to: a@b.test\n    subject: s\n    text: t') });
    const result = await sluice(['validate', join(dir, 'job.yaml')], { env: { SMTP_URL: 'https://user:hunter2@mail.test' }, timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/with\.smtp: must be an smtp:\/\/ or smtps:\/\/ URL \(got https:\/\/…\)/);
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });

  it.each([
    ['a template file that does not exist', base('    to: a@b.test\n    subject: s\n    htmlFile: templates/nope.html'), {}, /email: htmlFile templates\/nope\.html does not exist/],
    [
      'a template file with a syntax error',
      base('    to: a@b.test\n    subject: s\n    htmlFile: bad.html'),
      { 'bad.html': '<p>\n  Hi {{ record.name ) }}\n</p>\n' },
      /email: bad\.html:2:\d+ {2}invalid template/,
    ],
    ['checkpoint.store: none (no ledger)', base('    to: a@b.test\n    subject: s\n    text: t', { checkpoint: 'checkpoint: { store: none }' }), {}, /needs a ledger to mail each key at most once/],
    ['an SMTP server that is not there', base('    to: a@b.test\n    subject: s\n    text: t'), {}, /could not start: email: cannot use the SMTP server .*ECONNREFUSED/],
  ])('refuses to start on %s, with a clear message', async (_name, job, files, message) => {
    const server = await startSmtpServer();
    servers.push(server);
    const dir = project({ 'users.jsonl': jsonl([{ id: 1, name: 'A' }]), 'job.yaml': job, ...files });
    const url = String(_name).includes('not there') ? 'smtp://127.0.0.1:1' : server.url;
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env: { SMTP_URL: url }, timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // one clear line, no stack trace
    expect(server.received).toHaveLength(0);
  });

  it('record-level failures are dead-lettered and never sent: bad address, missing field (strict), missing attachment, missing key', async () => {
    const server = await startSmtpServer({ parse: true });
    servers.push(server);
    const records = [
      { id: 1, email: 'ok@example.test', name: 'Ann', file: 'files/a.txt' },
      { id: 2, email: 'not an address', name: 'Bob', file: null },
      { id: 3, email: 'c@example.test', file: null },
      { id: 4, email: 'd@example.test', name: 'Dee', file: 'files/missing.txt' },
      { id: 5, email: 'e@example.test', name: 'Eve', file: '../../etc/passwd' },
      { email: 'f@example.test', name: 'Fay', file: null },
    ];
    const job = base('    to: "{{ record.email }}"\n    subject: "Hi {{ record.name }}"\n    text: t\n    attachments: record.file');
    const dir = project({ 'users.jsonl': jsonl(records), 'job.yaml': job, 'files/a.txt': 'A' });
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env: { SMTP_URL: server.url }, timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(server.received.map((m) => m.envelope.to)).toEqual([['ok@example.test']]);
    const dead = deadLetters(join(dir, 'out/rejects.jsonl'));
    const errors = Object.fromEntries(dead.map((d) => [String(d.record.id ?? 'no-id'), d.error]));
    expect(errors['2']).toMatch(/to: "not an address" is not an email address/);
    expect(errors['3']).toMatch(/subject: \{\{ record\.name \}\} is undefined for this record \(strict: true\)/);
    expect(errors['4']).toMatch(/attachment "files\/missing\.txt" does not exist/);
    expect(errors['5']).toMatch(/attachment "\.\.\/\.\.\/etc\/passwd" is outside attachmentsDir/);
    expect(errors['no-id']).toMatch(/key record\.id is undefined for this record/);
  });

  it('strict: false renders a missing field empty, as Sluice templates do elsewhere', async () => {
    const server = await startSmtpServer({ parse: true });
    servers.push(server);
    const job = base('    to: "{{ record.email }}"\n    subject: "Hi {{ record.name }}!"\n    text: t\n    strict: false');
    const dir = project({ 'users.jsonl': jsonl([{ id: 3, email: 'c@example.test' }]), 'job.yaml': job });
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env: { SMTP_URL: server.url }, timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(server.received.map((m) => m.parsed!.subject)).toEqual(['Hi !']);
  });
});

afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
