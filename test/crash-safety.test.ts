// Exactly-once into a file: SIGKILL a file → transform → file job while its output runs ahead of
// its checkpoint, resume, and the output equals an uninterrupted run byte for byte.
import { createWriteStream, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';
import { checkpointPast, followEvents } from './support/events.js';

const RECORDS = 40_000;
const BATCH = 200;

/**
 * Batches finish out of order (an async local transform delays some records), and a second,
 * throttled sink holds the checkpoint back while the first has already written further: the
 * window in which a crash leaves output past the checkpoint, which a resume must cut off.
 */
const job = (name: string, throttle: boolean) => `version: 1
name: ${name}
batch: { size: ${BATCH}, inFlight: 6 }
source:
  use: file
  with: { path: input.jsonl }
steps:
  - use: ./jitter.mjs
    concurrency: 16
  - use: map
    with:
      set:
        name: record.name.toUpperCase()
        big: record.amount > 500
sinks:
  - id: out
    use: file
    with: { path: out/result.jsonl }
  - id: copy
    use: file
    with: { path: out/copy.jsonl }${throttle ? '\n    rateLimit: 40/s' : ''}
`;

const jitter = `import { defineTransform } from '@sluice/core';
export default defineTransform({
  name: 'jitter',
  description: 'delays some records so batches finish out of order',
  schema: { type: 'object', additionalProperties: false },
  create() {
    return {
      process: async (record) => {
        if (record.id % 1000 < 3) await new Promise((r) => setTimeout(r, 2 + (record.id % 13)));
        return { ...record, seen: true };
      },
    };
  },
});
`;

let dir: string;

async function writeInput(path: string): Promise<void> {
  const random = seeded(42);
  const out = createWriteStream(path);
  for (let id = 0; id < RECORDS; id++) {
    const line = `${JSON.stringify({ id, name: `user-${id}`, amount: Math.floor(random() * 1000), note: 'x'.repeat(Math.floor(random() * 40)) })}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** A job folder over the shared input; `throttle` slows the second sink (not in the fingerprint). */
function jobDir(name: string, throttle: boolean): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'job.yaml'), job('crash', throttle));
  writeFileSync(join(d, 'jitter.mjs'), jitter);
  symlinkSync(join(dir, 'input.jsonl'), join(d, 'input.jsonl'));
  symlinkSync(join(dir, 'node_modules'), join(d, 'node_modules'));
  return d;
}

interface FileCheckpoint {
  counters: { read: number };
  sinks: Record<string, { size: number }>;
}

let expected: { out: Buffer; copy: Buffer };

beforeAll(async () => {
  dir = tempDir('sluice-crash-');
  await writeInput(join(dir, 'input.jsonl'));
  // The plugin module imports @sluice/core: resolve it from the repo's node_modules.
  mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
  symlinkSync(join(import.meta.dirname, '../packages/core'), join(dir, 'node_modules/@sluice/core'));
  const reference = jobDir('reference', false);
  const clean = await sluice(['run', join(reference, 'job.yaml'), '--progress', 'none'], { timeoutMs: 120_000 });
  expect(clean.code, clean.stderr).toBe(0);
  expected = { out: readFileSync(join(reference, 'out/result.jsonl')), copy: readFileSync(join(reference, 'out/copy.jsonl')) };
  expect(expected.out.toString().split('\n').length - 1).toBe(RECORDS);
}, 180_000);

describe('crash safety of a file → map → file job', () => {
  it('SIGKILLed three times while its output ran past the checkpoint, resumed each time: both outputs equal an uninterrupted run byte for byte', async () => {
    const crashed = jobDir('crashed', true);
    const checkpointFile = join(crashed, '.sluice/checkpoints/crash.json');
    const random = seeded(7);
    /** Per kill: records the checkpoint covered, and bytes of output past its saved size. */
    const kills: Array<{ read: number; ahead: number }> = [];
    let resumedAt = 0;
    for (let run = 0; kills.filter((k) => k.ahead > 0).length < 3 && run < 8; run++) {
      const child = start(['run', join(crashed, 'job.yaml'), '--progress', 'json']);
      const exited = finished(child, 120_000);
      // A random moment, measured in the run's own progress: a checkpoint 6–25 batches further on.
      const target = resumedAt + BATCH * (6 + Math.floor(random() * 20));
      const reached = await followEvents(child).next(checkpointPast(target));
      if (reached) child.kill('SIGKILL');
      const result = await exited;
      expect(result.signal, `run ${run} ended before its kill (${result.code}): ${result.stderr}`).toBe('SIGKILL');
      // What the kill left: the checkpoint on disk, and the output beyond the size it saved.
      const saved = JSON.parse(readFileSync(checkpointFile, 'utf8')) as FileCheckpoint;
      const ahead = statSync(join(crashed, 'out/result.jsonl')).size - saved.sinks.out!.size;
      expect(ahead, 'the output is never behind its checkpoint').toBeGreaterThanOrEqual(0);
      kills.push({ read: saved.counters.read, ahead });
      resumedAt = saved.counters.read;
    }
    console.log(`file crash test: kills ${JSON.stringify(kills)}`);
    // Only kills that left output past the checkpoint count: the case truncation on resume is for.
    expect(kills.filter((k) => k.ahead > 0).length, JSON.stringify(kills)).toBe(3);

    const last = await sluice(['run', join(crashed, 'job.yaml'), '--progress', 'none'], { timeoutMs: 120_000 });
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toContain('resumed from the checkpoint');
    const actual = readFileSync(join(crashed, 'out/result.jsonl'));
    expect(actual.length).toBe(expected.out.length);
    expect(actual.equals(expected.out)).toBe(true);
    expect(readFileSync(join(crashed, 'out/copy.jsonl')).equals(expected.copy)).toBe(true);

    // The resumed job's counts add up over all its runs.
    const status = await sluice(['status', join(crashed, 'job.yaml'), '--json']);
    const checkpoint = JSON.parse(status.stdout).checkpoint;
    expect(checkpoint.done).toBe(true);
    expect(checkpoint.counters).toMatchObject({ read: RECORDS, written: RECORDS, filtered: 0, deadLettered: 0, skipped: 0 });
  }, 300_000);

  it('SIGINT drains, checkpoints and exits 130; the next run completes with the same output', async () => {
    const sigint = jobDir('sigint', false);
    const checkpoint = join(sigint, '.sluice/checkpoints/crash.json');
    const child = start(['run', join(sigint, 'job.yaml'), '--progress', 'json']);
    const exited = finished(child, 120_000);
    // Interrupt once the first checkpoint is saved.
    expect(await followEvents(child).next(checkpointPast(1))).toBeDefined();
    child.kill('SIGINT');
    const interrupted = await exited;
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toContain('interrupted');
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8'));
    expect(saved.done).toBe(false);
    expect(saved.counters.read).toBeLessThan(RECORDS);

    const resumed = await sluice(['run', join(sigint, 'job.yaml'), '--progress', 'none'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain('resumed from the checkpoint');
    expect(readFileSync(join(sigint, 'out/result.jsonl')).equals(expected.out)).toBe(true);
    expect(readFileSync(join(sigint, 'out/copy.jsonl')).equals(expected.copy)).toBe(true);
  }, 300_000);
});
