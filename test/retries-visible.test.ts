import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { TestServer } from './support/http-server.js';
import { startSmtpServer } from './support/smtp.js';

// Retries a plugin makes inside its own loop (issue 14 item 3) are counted on its step: summary,
// JSON events and report — with the real fault-injecting HTTP server and the real SMTP server.

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server.close();
});

/** The JSON events of a `--progress json` run (one per line on stdout, the report last). */
const events = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; step?: string });

describe('retries a plugin makes itself', () => {
  it('http source: every page fetched again is a retry of the source step, in the summary, the events and the report', async () => {
    server.reset();
    server.items = 60;
    server.injectAfter('/data/page', 2, { kind: 'status', status: 503 }, { kind: 'status', status: 500 }, { kind: 'status', status: 429, retryAfter: '0' }, { kind: 'reset' });
    const dir = tempDir('sluice-retries-http-');
    writeFileSync(
      join(dir, 'job.yaml'),
      `version: 1
name: pages
source:
  use: http
  with:
    url: ${server.url}/data/page
    items: data.items
    pagination: page
    pageSize: 10
  retry: { attempts: 5, initialDelay: 5ms, maxDelay: 20ms }
sink:
  use: file
  with: { path: out/items.jsonl }
`,
    );
    const report = join(dir, 'report.json');
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'json', '--report', report]);
    expect(result.code, result.stderr).toBe(0);
    const faults = server.seen('/data/page').filter((r) => r.fault).length;
    expect(faults).toBe(4);
    expect(readFileSync(join(dir, 'out/items.jsonl'), 'utf8').trim().split('\n')).toHaveLength(60);
    expect(events(result.stdout).filter((e) => e.type === 'retry' && e.step === 'source')).toHaveLength(4);
    const summary = JSON.parse(readFileSync(report, 'utf8'));
    expect(summary.counters.retries).toBe(4);
    expect(summary.thisRun.retries).toBe(4);
    expect(summary.steps.find((s: { id: string }) => s.id === 'source').retries).toBe(4);
    expect(result.stderr).toContain('4 retries');
  });

  it('email sink: the 451s its writer resends within one write are retries of the sink step', async () => {
    const deferred = new Set(['user2@example.test', 'user5@example.test', 'user9@example.test']);
    const smtp = await startSmtpServer({
      onMessage: ({ envelope, attempt }) =>
        attempt === 1 && envelope.to.some((to) => deferred.has(to)) ? { code: 451, message: '4.3.0 Temporary local problem, try again' } : undefined,
    });
    try {
      const dir = tempDir('sluice-retries-email-');
      mkdirSync(join(dir, 'out'));
      writeFileSync(join(dir, 'users.jsonl'), Array.from({ length: 12 }, (_, i) => JSON.stringify({ id: `k${i}`, email: `user${i}@example.test` })).join('\n') + '\n');
      writeFileSync(
        join(dir, 'job.yaml'),
        `version: 1
name: mails
source: { use: file, with: { path: users.jsonl } }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    from: hello@acme.test
    to: "{{ record.email }}"
    subject: "Hi {{ record.id }}"
    text: "Hello"
  retry: { attempts: 3, initialDelay: 5ms, maxDelay: 20ms }
`,
      );
      const report = join(dir, 'report.json');
      const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'json', '--report', report], { env: { SMTP_URL: smtp.url } });
      expect(result.code, result.stderr).toBe(0);
      expect(smtp.received).toHaveLength(12);
      expect(events(result.stdout).filter((e) => e.type === 'retry' && e.step === 'sink')).toHaveLength(3);
      const summary = JSON.parse(readFileSync(report, 'utf8'));
      expect(summary.counters).toMatchObject({ written: 12, retries: 3 });
      expect(summary.steps.find((s: { id: string }) => s.id === 'sink').retries).toBe(3);
    } finally {
      await smtp.close();
    }
  });
});
