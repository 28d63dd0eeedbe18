import { existsSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';

const RECORDS = 200_000;

/** A job whose batches finish out of order: an async local transform delays some records. */
const job = (name: string) => `version: 1
name: ${name}
batch: { size: 500, inFlight: 6 }
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
sink:
  use: file
  with: { path: out/result.jsonl }
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

function setup(d: string, name: string) {
  writeFileSync(join(d, 'job.yaml'), job(name));
  writeFileSync(join(d, 'jitter.mjs'), jitter);
}

beforeAll(async () => {
  dir = tempDir('sluice-crash-');
  await writeInput(join(dir, 'input.jsonl'));
  // The plugin module imports @sluice/core: resolve it from the repo's node_modules.
  const { symlinkSync, mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
  symlinkSync(join(import.meta.dirname, '../packages/core'), join(dir, 'node_modules/@sluice/core'));
}, 120_000);

describe('crash safety of a file → map → file job', () => {
  it('SIGKILL at five random moments, resumed each time: output equals an uninterrupted run byte for byte', async () => {
    const reference = join(dir, 'reference');
    const crashed = join(dir, 'crashed');
    for (const d of [reference, crashed]) {
      const { mkdirSync, symlinkSync } = await import('node:fs');
      mkdirSync(d, { recursive: true });
      setup(d, 'crash');
      symlinkSync(join(dir, 'input.jsonl'), join(d, 'input.jsonl'));
      symlinkSync(join(dir, 'node_modules'), join(d, 'node_modules'));
    }

    const clean = await sluice(['run', join(reference, 'job.yaml'), '--progress', 'none'], { timeoutMs: 120_000 });
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    const expected = readFileSync(join(reference, 'out/result.jsonl'));
    expect(expected.toString().split('\n').length - 1).toBe(RECORDS);

    const random = seeded(7);
    let kills = 0;
    let runs = 0;
    while (kills < 5 && runs < 20) {
      runs++;
      const child = start(['run', join(crashed, 'job.yaml'), '--progress', 'none']);
      const exited = finished(child, 120_000);
      await sleep(200 + Math.floor(random() * 900));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        kills++;
      }
      const result = await exited;
      if (result.signal !== 'SIGKILL') {
        // It finished before the kill: the job is complete.
        expect(result.code, result.stderr).toBe(0);
        break;
      }
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    const last = await sluice(['run', join(crashed, 'job.yaml'), '--progress', 'none'], { timeoutMs: 120_000 });
    expect(last.code, last.stderr).toBe(0);
    const actual = readFileSync(join(crashed, 'out/result.jsonl'));
    expect(actual.length).toBe(expected.length);
    expect(actual.equals(expected)).toBe(true);

    // The resumed job's counts add up over all its runs.
    const status = await sluice(['status', join(crashed, 'job.yaml'), '--json']);
    const checkpoint = JSON.parse(status.stdout).checkpoint;
    expect(checkpoint.done).toBe(true);
    expect(checkpoint.counters).toMatchObject({ read: RECORDS, written: RECORDS, filtered: 0, deadLettered: 0, skipped: 0 });
  }, 600_000);

  it('SIGINT drains, checkpoints and exits 130; the next run completes with the same output', async () => {
    const reference = join(dir, 'reference');
    const sigint = join(dir, 'sigint');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    mkdirSync(sigint, { recursive: true });
    setup(sigint, 'crash');
    symlinkSync(join(dir, 'input.jsonl'), join(sigint, 'input.jsonl'));
    symlinkSync(join(dir, 'node_modules'), join(sigint, 'node_modules'));

    const child = start(['run', join(sigint, 'job.yaml'), '--progress', 'plain']);
    const exited = finished(child, 120_000);
    const checkpoint = join(sigint, '.sluice/checkpoints/crash.json');
    for (let i = 0; i < 200 && !existsSync(checkpoint); i++) await sleep(20);
    expect(existsSync(checkpoint)).toBe(true);
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
    expect(readFileSync(join(sigint, 'out/result.jsonl')).equals(readFileSync(join(reference, 'out/result.jsonl')))).toBe(true);
  }, 300_000);
});
