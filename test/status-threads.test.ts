// `sluice status` after and during `sluice run --threads N`: each partition's checkpoint (read back
// from the files the run saved), the run's process holding the running ones, and the counts added up;
// `sluice reset` refusing while the run holds partitions, and deleting them all afterwards.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { finished, sluice, start, tempDir } from './support/cli.js';
import { writeJsonl } from './support/distributed.js';

const RECORDS = 40_000;
const FILTERED = Math.floor(RECORDS / 7);

interface Saved {
  seq: number;
  done?: boolean;
  counters: { read: number; written: number; filtered: number };
}

interface Status {
  checkpoint: unknown;
  threads: { plan: string; matches: boolean; partitions: Array<{ index: number; location: string; checkpoint: Saved | null; matches: boolean | null; lock: { pid: number } | null }> } | null;
}

/** The partition checkpoints on disk, by index. */
function saved(dir: string): Map<number, Saved> {
  const folder = join(dir, '.sluice', 'checkpoints');
  const out = new Map<number, Saved>();
  if (!existsSync(folder)) return out;
  for (const name of readdirSync(folder)) {
    const index = /\.p(\d+)\.json$/.exec(name)?.[1];
    if (index === undefined) continue;
    try {
      out.set(Number(index), JSON.parse(readFileSync(join(folder, name), 'utf8')) as Saved);
    } catch {
      // Being replaced right now.
    }
  }
  return out;
}

const batches = (dir: string) => [...saved(dir).values()].reduce((n, c) => n + c.seq + 1, 0);
const int = (n: number) => n.toLocaleString('en-US');

describe('sluice status of a --threads run', () => {
  it('shows every partition: while it runs (held by the run; reset refuses), after a SIGKILL (in progress, from disk), complete, and reset', async () => {
    const dir = tempDir('sluice-status-threads-');
    await writeJsonl(join(dir, 'in.jsonl'), RECORDS);
    // 80 batches at 2/s over the whole job: long enough to look at it running (the resume goes faster).
    writeFileSync(
      join(dir, 'job.yaml'),
      `version: 1
name: threaded
batch: { size: 500 }
source: { use: file, with: { path: in.jsonl } }
steps:
  - use: filter
    with: { where: record.id % 7 != 0 }
sink:
  use: file
  with: { path: out/out.jsonl }
  rateLimit: 2/s
`,
    );
    const child = start(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir });
    while (batches(dir) < 4 && child.exitCode === null) await sleep(20);
    expect(child.exitCode, child.output.stderr).toBeNull();

    const during = await sluice(['status', 'job.yaml', '--json'], { cwd: dir });
    expect(during.code, during.stderr).toBe(0);
    const live = JSON.parse(during.stdout) as Status;
    expect(live.checkpoint).toBeNull();
    expect(live.threads?.matches).toBe(true);
    expect(live.threads?.partitions.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Two threads: partitions run two at a time, each under the lock of the run's process.
    const held = live.threads!.partitions.filter((p) => p.lock);
    expect(held.length, during.stdout).toBeGreaterThan(0);
    for (const p of held) expect(p.lock!.pid).toBe(child.pid);
    // reset refuses while the run holds partitions, and deletes nothing.
    const before = [...saved(dir).keys()];
    const refused = await sluice(['reset', 'job.yaml'], { cwd: dir });
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/another run holds this job's state \(\S+threaded\.p\d\.json\): pid \d+/);
    expect([...saved(dir).keys()]).toEqual(expect.arrayContaining(before));
    expect(child.exitCode, 'the run was still going when reset refused').toBeNull();
    expect(existsSync(join(dir, '.sluice', 'checkpoints', 'threaded.threads.json'))).toBe(true);

    child.kill('SIGKILL');
    await finished(child, 60_000);
    expect(child.signalCode, child.output.stderr).toBe('SIGKILL');
    const onDisk = saved(dir);
    expect(onDisk.size).toBeGreaterThan(0);

    const after = await sluice(['status', 'job.yaml', '--json'], { cwd: dir });
    const killed = JSON.parse(after.stdout) as Status;
    for (const p of killed.threads!.partitions) {
      expect(p.checkpoint, `p${p.index}`).toEqual(onDisk.get(p.index) ?? null);
      expect(p.location).toBe(join(dir, '.sluice', 'checkpoints', `threaded.p${p.index}.json`));
      expect(p.lock, 'a killed run holds nothing').toBeNull();
    }
    const text = await sluice(['status', 'job.yaml'], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    const sum = [...onDisk.values()].reduce((n, c) => n + c.counters.read, 0);
    expect(sum).toBeLessThan(RECORDS);
    expect(text.stdout).toContain('threaded: no checkpoint of a run without --threads');
    expect(text.stdout).toContain(`threaded --threads: 8 partitions (plan ${join(dir, '.sluice', 'checkpoints', 'threaded.threads.json')}), ${[...onDisk.values()].filter((c) => c.done).length} complete`);
    expect(text.stdout).toContain(`  read ${int(sum)} = written `);
    for (let index = 0; index < 8; index++) {
      const c = onDisk.get(index);
      expect(text.stdout).toContain(
        c ? `  p${index}: ${c.done ? 'complete' : 'in progress'}, batch ${c.seq}, ${int(c.counters.read)} read, ${int(c.counters.written)} written` : `  p${index}: no checkpoint: starts from its beginning`,
      );
    }
    expect(text.stdout).toContain('sluice run with --threads resumes each partition from its checkpoint');
    expect(text.stdout).not.toContain('running now');

    const resumed = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none', '--set', 'sink.rateLimit=1000/s'], { cwd: dir, timeoutMs: 180_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    const complete = await sluice(['status', 'job.yaml'], { cwd: dir });
    expect(complete.stdout).toContain(', 8 complete\n');
    expect(complete.stdout).toContain(`  read ${int(RECORDS)} = written ${int(RECORDS - FILTERED)} + filtered ${int(FILTERED)} + dead-lettered 0 + skipped 0\n`);
    expect(complete.stdout).toContain('the next run with --threads reads only what the source has added since');

    // reset deletes every partition's checkpoint and the plan: the next run starts from the beginning.
    const reset = await sluice(['reset', 'job.yaml'], { cwd: dir });
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain(`threaded --threads: 8 of 8 partition checkpoints deleted, and the partition plan (${join(dir, '.sluice', 'checkpoints', 'threaded.threads.json')})`);
    expect(readdirSync(join(dir, '.sluice', 'checkpoints')).filter((n) => n.endsWith('.json'))).toEqual([]);
    const empty = await sluice(['status', 'job.yaml'], { cwd: dir });
    expect(empty.stdout).toBe(`threaded: no checkpoint (${join(dir, '.sluice', 'checkpoints', 'threaded.json')}); the next run starts from the beginning\n`);
  }, 300_000);
});
