import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';
import { startSmtpServer, type SmtpTestServer } from './support/smtp.js';

const COUNT = 2_000;
const CONCURRENCY = 8;
const messageIdOf = (key: string) => `<${createHash('sha256').update(`crash-mail\n${key}`).digest('hex').slice(0, 32)}@sluice.local>`;

const job = `version: 1
name: crash-mail
batch: { size: 100, inFlight: 4 }
source: { use: file, with: { path: users.jsonl } }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    from: hello@acme.test
    to: "{{ record.email }}"
    subject: "Hello {{ record.id }}"
    text: "Hi"
  concurrency: ${CONCURRENCY}
`;

let dir: string;
let server: SmtpTestServer;

beforeAll(async () => {
  dir = tempDir('sluice-email-crash-');
  const users = Array.from({ length: COUNT }, (_, i) => ({ id: `c${i}`, email: `u${i}@example.test` }));
  writeFileSync(join(dir, 'users.jsonl'), users.map((u) => JSON.stringify(u)).join('\n') + '\n');
  writeFileSync(join(dir, 'job.yaml'), job);
  // A server that takes a moment to say 250: a kill then finds messages in flight, the case that
  // can duplicate a mail.
  server = await startSmtpServer({ delayMs: 10 });
});

afterAll(async () => {
  await server?.close();
});

describe('email sink: crash safety', () => {
  it('SIGKILLed three times mid-send and resumed: every key arrives; at most `concurrency` duplicates per crash; a rerun sends nothing', async () => {
    const env = { SMTP_URL: server.url };
    const random = seeded(2024);
    const seenBefore = new Set<string>();
    const duplicatesPerCrash: number[] = [];
    let kills = 0;
    let finishedEarly = false;
    for (let run = 0; run < 6 && kills < 3; run++) {
      const firstOfRun = server.received.length;
      const child = start(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env });
      const exited = finished(child, 60_000);
      // A random moment: after 50–400 more messages have arrived.
      const target = firstOfRun + 50 + Math.floor(random() * 350);
      const deadline = Date.now() + 30_000;
      while (server.received.length < target && child.exitCode === null && Date.now() < deadline) await sleep(2);
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        kills++;
      }
      const result = await exited;
      // Let the server finish messages whose final dot arrived before the kill.
      await sleep(100);
      const ofRun = server.received.slice(firstOfRun).map((m) => m.messageId);
      if (run > 0) duplicatesPerCrash.push(ofRun.filter((id) => seenBefore.has(id)).length);
      for (const id of ofRun) seenBefore.add(id);
      if (result.signal !== 'SIGKILL') {
        expect(result.code, result.stderr).toBe(0);
        finishedEarly = true;
        break;
      }
    }
    expect(kills).toBe(3);
    expect(finishedEarly).toBe(false);

    const firstOfLast = server.received.length;
    const last = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env, timeoutMs: 60_000 });
    expect(last.code, last.stderr).toBe(0);
    duplicatesPerCrash.push(server.received.slice(firstOfLast).filter((m) => seenBefore.has(m.messageId)).length);

    const byId = server.byMessageId();
    for (let i = 0; i < COUNT; i++) expect(byId.has(messageIdOf(`c${i}`)), `c${i}`).toBe(true);
    expect(byId.size).toBe(COUNT);
    const duplicates = server.received.length - COUNT;
    // One resumed run after each crash: each may resend only what was in flight when it died.
    expect(duplicatesPerCrash).toHaveLength(3);
    for (const d of duplicatesPerCrash) expect(d).toBeLessThanOrEqual(CONCURRENCY);
    expect(duplicates).toBe(duplicatesPerCrash.reduce((a, b) => a + b, 0));
    console.log(`email crash test: ${kills} kills, duplicates per crash ${duplicatesPerCrash.join(', ')} (bound ${CONCURRENCY})`);

    // The job is done: a rerun, and a --fresh rerun, mail nobody.
    const before = server.received.length;
    const rerun = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env, timeoutMs: 60_000 });
    expect(rerun.code, rerun.stderr).toBe(0);
    const fresh = await sluice(['run', join(dir, 'job.yaml'), '--fresh', '--progress', 'plain'], { env, timeoutMs: 60_000 });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout + fresh.stderr).toMatch(/2000 skipped \(already sent/);
    expect(server.received.length).toBe(before);
  }, 180_000);
});
