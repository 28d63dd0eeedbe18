import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';

// SIGKILL while two pipelined batches are pending: a second pipelined sink (`hold.mjs`) takes
// batches k and k+1 and never finishes them, so the checkpoint cannot pass k-1 while the file sink
// (pipelined too) has already written k, k+1 and more. The kill comes once both are handed over;
// the resume must cut the file back and write it again byte for byte.

const RECORDS = 20_000;
const BATCH = 200;

const job = `version: 1
name: pipelined-crash
batch: { size: ${BATCH}, inFlight: 6 }
source:
  use: file
  with: { path: input.jsonl }
steps:
  - use: map
    with:
      set:
        name: record.name.toUpperCase()
sinks:
  - id: out
    use: file
    with: { path: out/result.jsonl }
  - id: hold
    use: ./hold.mjs
`;

/** Pipelined; logs each write's start; with HOLD_AT=k the writes of batches k and k+1 never finish. */
const hold = `import { appendFileSync } from 'node:fs';
const at = process.env.HOLD_AT === undefined ? -1 : Number(process.env.HOLD_AT);
export default {
  kind: 'sink', apiVersion: 1, name: 'hold', description: 'holds two batches', schema: { type: 'object' },
  create(config, ctx) {
    const log = ctx.resolvePath('hold.log');
    return {
      pipeline: 2,
      write(records, info) {
        appendFileSync(log, 'begin ' + info.seq + '\\n');
        if (at >= 0 && (info.seq === at || info.seq === at + 1)) return new Promise(() => {});
        return new Promise((resolve) => setTimeout(resolve, 2));
      },
    };
  },
};
`;

let dir: string;

beforeAll(async () => {
  dir = tempDir('sluice-pipelined-crash-');
  const random = seeded(11);
  const out = createWriteStream(join(dir, 'input.jsonl'));
  for (let id = 0; id < RECORDS; id++) {
    const line = `${JSON.stringify({ id, name: `user-${id}`, amount: Math.floor(random() * 1000), note: 'x'.repeat(Math.floor(random() * 40)) })}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  for (const d of ['reference', 'crashed']) {
    mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, d, 'job.yaml'), job);
    writeFileSync(join(dir, d, 'hold.mjs'), hold);
    symlinkSync(join(dir, 'input.jsonl'), join(dir, d, 'input.jsonl'));
  }
}, 60_000);

/** The checkpoint a run left (the file store's one JSON file under the job folder's .sluice). */
function checkpointOf(jobDir: string): { seq: number; sinks: { out: { size: number } }; done: boolean } | undefined {
  const folder = join(jobDir, '.sluice/checkpoints');
  if (!existsSync(folder)) return undefined;
  const file = readdirSync(folder).find((f) => f.endsWith('.json'));
  return file ? JSON.parse(readFileSync(join(folder, file), 'utf8')) : undefined;
}

const begun = (jobDir: string) =>
  existsSync(join(jobDir, 'hold.log'))
    ? readFileSync(join(jobDir, 'hold.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => Number(line.split(' ')[1]))
    : [];

describe('crash safety of pipelined sinks', () => {
  it('SIGKILL while two pipelined batches are pending, three times, resumed each time: the file equals an uninterrupted run byte for byte', async () => {
    const reference = join(dir, 'reference');
    const clean = await sluice(['run', join(reference, 'job.yaml'), '--progress', 'none'], { timeoutMs: 120_000 });
    expect(clean.code, clean.stderr).toBe(0);
    const expected = readFileSync(join(reference, 'out/result.jsonl'));
    expect(expected.toString().split('\n').length - 1).toBe(RECORDS);

    const crashed = join(dir, 'crashed');
    const batches = RECORDS / BATCH;
    for (const holdAt of [5, 30, 70]) {
      const child = start(['run', join(crashed, 'job.yaml'), '--progress', 'none'], { env: { HOLD_AT: String(holdAt) } });
      const exited = finished(child, 120_000);
      // Both held batches handed over to the pipelined sink (two writes pending), and everything
      // before them checkpointed.
      const ready = () => begun(crashed).includes(holdAt + 1) && checkpointOf(crashed)?.seq === holdAt - 1;
      for (let i = 0; i < 1000 && !ready() && child.exitCode === null; i++) await sleep(20);
      expect(ready()).toBe(true);
      child.kill('SIGKILL');
      expect((await exited).signal).toBe('SIGKILL');

      // The checkpoint never passed the pending batches…
      const checkpoint = checkpointOf(crashed)!;
      expect(checkpoint.seq).toBe(holdAt - 1);
      // …while the file already holds batches past it, which the resume must drop and rewrite.
      expect(statSync(join(crashed, 'out/result.jsonl')).size).toBeGreaterThan(checkpoint.sinks.out.size);
    }

    const last = await sluice(['run', join(crashed, 'job.yaml'), '--progress', 'none'], { timeoutMs: 120_000 });
    expect(last.code, last.stderr).toBe(0);
    const actual = readFileSync(join(crashed, 'out/result.jsonl'));
    expect(actual.length).toBe(expected.length);
    expect(actual.equals(expected)).toBe(true);
    expect(checkpointOf(crashed)).toMatchObject({ seq: batches - 1, done: true });
  }, 300_000);
});
