// At most `concurrency` duplicates per crash: SIGKILL an email job while the server holds a
// message's final answer, resume, and count what the real SMTP server received per key.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';
import { startSmtpServer, type SmtpTestServer } from './support/smtp.js';

const COUNT = 1_000;
const CONCURRENCY = 8;
const messageIdOf = (key: string) => `<${createHash('sha256').update(`crash-mail\n${key}`).digest('hex').slice(0, 32)}@sluice.local>`;
const keyOf = new Map(Array.from({ length: COUNT }, (_, i) => [messageIdOf(`c${i}`), `c${i}`]));

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
/** Called by the server after a message's final dot, before it answers: the moment to kill. */
let beforeAnswer: (() => void) | undefined;

beforeAll(async () => {
  dir = tempDir('sluice-email-crash-');
  const users = Array.from({ length: COUNT }, (_, i) => ({ id: `c${i}`, email: `u${i}@example.test` }));
  writeFileSync(join(dir, 'users.jsonl'), users.map((u) => JSON.stringify(u)).join('\n') + '\n');
  writeFileSync(join(dir, 'job.yaml'), job);
  // A server that takes a moment to say 250, so several messages are in flight at any time.
  server = await startSmtpServer({
    delayMs: 5,
    onMessage: () => {
      beforeAnswer?.();
      return undefined;
    },
  });
});

afterAll(async () => {
  await server?.close();
});

/** Keys the ledger holds as sent (a torn last line is not a key). */
function ledgerKeys(): Set<string> {
  const text = readFileSync(join(dir, '.sluice/checkpoints/crash-mail.email-sink.ledger'), 'utf8');
  const keys = new Set<string>();
  for (const line of text.split('\n')) {
    try {
      if (line) keys.add(JSON.parse(line) as string);
    } catch {
      // torn by the kill
    }
  }
  return keys;
}

describe('email sink: crash safety', () => {
  it('SIGKILLed three times while the server held a message, resumed: every key arrives; at most `concurrency` duplicates per crash; a rerun sends nothing', async () => {
    const env = { SMTP_URL: server.url };
    const random = seeded(2024);
    const seenBefore = new Set<string>();
    /** Per kill: messages the server accepted that the ledger does not hold (a resume sends them again). */
    const unrecorded: number[] = [];
    const duplicatesPerCrash: number[] = [];
    for (let run = 0; run < 3; run++) {
      const firstOfRun = server.received.length;
      const child = start(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env });
      const exited = finished(child, 60_000);
      // A random moment: the 50th–250th message of this run, killed while the server holds its
      // answer, so at least that message is delivered and not yet in the ledger.
      const target = firstOfRun + 50 + Math.floor(random() * 200);
      beforeAnswer = () => {
        if (server.received.length + 1 >= target && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      };
      const result = await exited;
      beforeAnswer = undefined;
      expect(result.signal, `run ${run} ended before its kill (${result.code}): ${result.stderr}`).toBe('SIGKILL');
      // Messages whose final dot arrived before the kill are still answered (and counted).
      await server.settled();
      const ofRun = server.received.slice(firstOfRun).map((m) => m.messageId);
      if (run > 0) duplicatesPerCrash.push(ofRun.filter((id) => seenBefore.has(id)).length);
      for (const id of ofRun) seenBefore.add(id);
      const ledger = ledgerKeys();
      unrecorded.push([...seenBefore].filter((id) => !ledger.has(keyOf.get(id)!)).length);
    }
    const firstOfLast = server.received.length;
    const last = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env, timeoutMs: 60_000 });
    expect(last.code, last.stderr).toBe(0);
    duplicatesPerCrash.push(server.received.slice(firstOfLast).filter((m) => seenBefore.has(m.messageId)).length);
    console.log(`email crash test: unrecorded at each kill ${unrecorded.join(', ')}; duplicates per crash ${duplicatesPerCrash.join(', ')} (bound ${CONCURRENCY})`);

    // Deliveries per key at the server: every key at least once, each duplicate accounted for.
    const byId = server.byMessageId();
    for (let i = 0; i < COUNT; i++) expect(byId.has(messageIdOf(`c${i}`)), `c${i}`).toBe(true);
    expect(byId.size).toBe(COUNT);
    // Every kill mattered: it left delivered messages the ledger does not know.
    for (const n of unrecorded) expect(n).toBeGreaterThanOrEqual(1);
    // One resumed run after each crash: each resends exactly what the ledger missed, never more than was in flight.
    expect(duplicatesPerCrash).toEqual(unrecorded);
    for (const d of duplicatesPerCrash) expect(d).toBeLessThanOrEqual(CONCURRENCY);
    expect(server.received.length - COUNT).toBe(duplicatesPerCrash.reduce((a, b) => a + b, 0));

    // The job is done: a rerun, and a --fresh rerun, mail nobody.
    const before = server.received.length;
    const rerun = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { env, timeoutMs: 60_000 });
    expect(rerun.code, rerun.stderr).toBe(0);
    const fresh = await sluice(['run', join(dir, 'job.yaml'), '--fresh', '--progress', 'plain'], { env, timeoutMs: 60_000 });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout + fresh.stderr).toContain(`${COUNT} skipped (already sent`);
    expect(server.received.length).toBe(before);
  }, 180_000);
});
