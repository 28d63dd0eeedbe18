// `sluice run --threads N`: the source's partitions on worker threads of one process. The output
// of a file sink is byte-identical to a one-thread run's, also after SIGKILLs and a resume; a
// source that cannot split says so and runs on one thread; a JSON array output is refused.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { finished, sluice, start, tempDir } from './support/cli.js';
import { writeJsonl } from './support/distributed.js';

const RECORDS = 40_000;

function job(dir: string, o: { sink?: string; rate?: string } = {}): void {
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: threaded
batch: { size: 500 }
source: { use: file, with: { path: in.jsonl } }
steps:
  - id: mark
    use: map
    with: { set: { twice: record.id * 2, label: "'n' + record.id" } }
  - use: filter
    with: { where: record.id % 7 != 0 }
sink:
  use: file
  with: { path: ${o.sink ?? 'out/out.jsonl'} }
${o.rate ? `  rateLimit: ${o.rate}\n` : ''}`,
  );
}

async function project(o: { sink?: string; rate?: string } = {}): Promise<string> {
  const dir = tempDir('sluice-threads-');
  await writeJsonl(join(dir, 'in.jsonl'), RECORDS);
  job(dir, o);
  return dir;
}

/** The partition checkpoints saved so far (their seq), read from disk. */
function checkpointed(dir: string): number {
  const folder = join(dir, '.sluice', 'checkpoints');
  if (!existsSync(folder)) return 0;
  let batches = 0;
  for (const name of readdirSync(folder).filter((n) => /\.p\d+\.json$/.test(n))) {
    try {
      batches += (JSON.parse(readFileSync(join(folder, name), 'utf8')) as { seq: number }).seq + 1;
    } catch {
      // Being replaced right now.
    }
  }
  return batches;
}

/** The batches saved so far by each partition that is not finished, read from disk. */
function unfinished(dir: string): number[] {
  const folder = join(dir, '.sluice', 'checkpoints');
  if (!existsSync(folder)) return [];
  const seqs: number[] = [];
  for (const name of readdirSync(folder).filter((n) => /\.p\d+\.json$/.test(n))) {
    try {
      const saved = JSON.parse(readFileSync(join(folder, name), 'utf8')) as { seq: number; done?: boolean };
      if (!saved.done) seqs.push(saved.seq + 1);
    } catch {
      // Being replaced right now.
    }
  }
  return seqs;
}

describe('sluice run --threads', () => {
  it('SIGKILLed twice mid-run and resumed: the output is byte-identical to a one-thread run', async () => {
    const reference = await project();
    const one = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: reference, timeoutMs: 120_000 });
    expect(one.code, one.stderr).toBe(0);

    // 80 batches at 20/s over the whole job: a few seconds, long enough to be killed twice.
    const dir = await project({ rate: '20/s' });
    for (let kill = 1; kill <= 2; kill++) {
      const before = checkpointed(dir);
      const child = start(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir });
      const deadline = Date.now() + 60_000;
      while (checkpointed(dir) < before + 4 && child.exitCode === null && Date.now() < deadline) await sleep(20);
      child.kill('SIGKILL');
      await finished(child, 30_000);
      expect(child.exitCode === null || child.signalCode === 'SIGKILL', `run ${kill} ended before the kill: ${child.output.stderr}`).toBe(true);
      // Killed mid-run: the parts are there, the joined file is not.
      expect(existsSync(join(dir, 'out', 'out.jsonl'))).toBe(false);
    }
    const resumed = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none', '--report', 'report.json'], { cwd: dir, timeoutMs: 180_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(join(dir, 'out', 'out.jsonl')).equals(readFileSync(join(reference, 'out', 'out.jsonl')))).toBe(true);
    expect(readdirSync(join(dir, 'out'))).toEqual(['out.jsonl']);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { counters: { read: number; written: number; filtered: number }; partitions: unknown[] };
    expect(report.counters).toMatchObject({ read: RECORDS, written: RECORDS - Math.floor(RECORDS / 7), filtered: Math.floor(RECORDS / 7) });
    expect(report.partitions).toHaveLength(8);
    expect(resumed.stdout).toContain('threads: 2, partitions: 8');
  }, 300_000);

  it('Ctrl-C stops the partitions on the main thread and on the worker thread at a checkpoint (exit 130); run again, the output is exact', async () => {
    const reference = await project();
    const one = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: reference, timeoutMs: 120_000 });
    expect(one.code, one.stderr).toBe(0);

    // Batches of 100: 50 per partition, at 20/s for the job (about 10/s per thread).
    const dir = await project({ rate: '20/s' });
    const small = ['--set', 'batch.size=100'];
    const child = start(['run', 'job.yaml', '--threads', '2', '--progress', 'plain', '--report', 'stopped.json', ...small], { cwd: dir });
    const deadline = Date.now() + 60_000;
    // Two partitions saved and far from their end: both threads (the main one and the worker) are
    // in one, with seconds to go, so the stop cannot come after a partition's last batch.
    while (unfinished(dir).filter((batches) => batches <= 25).length < 2 && child.exitCode === null && Date.now() < deadline) await sleep(20);
    child.kill('SIGINT');
    const stopped = await finished(child, 60_000);
    expect(stopped.code, stopped.stderr).toBe(130);
    const report = JSON.parse(readFileSync(join(dir, 'stopped.json'), 'utf8')) as { status: string; partitions: Array<{ status: string; worker?: string }> };
    expect(report.status).toBe('interrupted');
    expect(report.partitions.filter((p) => p.status === 'interrupted').map((p) => p.worker).sort(), JSON.stringify(report.partitions)).toEqual(['thread-1', 'thread-2']);
    expect(existsSync(join(dir, 'out', 'out.jsonl'))).toBe(false);

    const resumed = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none', ...small, '--set', 'sink.rateLimit=100000/s'], { cwd: dir, timeoutMs: 180_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(join(dir, 'out', 'out.jsonl')).equals(readFileSync(join(reference, 'out', 'out.jsonl')))).toBe(true);
  }, 300_000);

  it('a one-thread run in progress is not redone by --threads: exit 2 saying how to go on', async () => {
    const dir = await project({ rate: '20/s' });
    const child = start(['run', 'job.yaml', '--progress', 'none'], { cwd: dir });
    const checkpoint = join(dir, '.sluice', 'checkpoints', 'threaded.json');
    const deadline = Date.now() + 60_000;
    while (!existsSync(checkpoint) && child.exitCode === null && Date.now() < deadline) await sleep(20);
    child.kill('SIGKILL');
    await finished(child, 30_000);
    const result = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/--threads: a run without --threads is in progress \(checkpoint \S+threaded\.json, \d+ records read\); finish it without --threads, or start over with --fresh/);
  });

  it("rateLimit is the job's, not each thread's: no second holds more than the job's rate of calls (300 records at 20/s)", async () => {
    const dir = tempDir('sluice-threads-');
    // 300 records of ~520 bytes: two byte ranges of at least 64 KiB, so two partitions run at once.
    writeFileSync(join(dir, 'in.jsonl'), Array.from({ length: 300 }, (_, i) => `${JSON.stringify({ id: i + 1, pad: 'x'.repeat(500) })}\n`).join(''));
    // The rate-limited step stamps each record when the limiter let its call (one record) through:
    // at most 20 in any second over both threads.
    writeFileSync(
      join(dir, 'job.yaml'),
      'version: 1\nname: paced\nbatch: { size: 10 }\nsource: { use: file, with: { path: in.jsonl } }\n' +
        'steps:\n  - id: stamp\n    use: map\n    with: { set: { at: Date.now() } }\n    rateLimit: 20/s\n' +
        'sink: { use: file, with: { path: out/out.jsonl } }\n',
    );
    const result = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir, timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('cannot split');
    const stamps = readFileSync(join(dir, 'out', 'out.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { at: number }).at)
      .sort((x, y) => x - y);
    expect(stamps).toHaveLength(300);
    let most = 0;
    for (let i = 0, j = 0; i < stamps.length; i++) {
      while (stamps[i]! - stamps[j]! >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    // Two limiters of 20/s (one per thread) let about 40 through in a second; the slack is for
    // stamps taken a moment after their permit.
    expect(most).toBeLessThanOrEqual(25);
  });

  it('a source that cannot split says so and runs on one thread', async () => {
    const dir = tempDir('sluice-threads-');
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'in.json'), JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ id: i + 1 }))));
    writeFileSync(join(dir, 'job.yaml'), 'version: 1\nname: single\nsource: { use: file, with: { path: in.json } }\nsink: { use: file, with: { path: out/out.jsonl } }\n');
    const result = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("source 'source' (file) cannot split; running on one thread");
    expect(readFileSync(join(dir, 'out', 'out.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(100);
  });

  it('a worker thread that dies fails the run (exit 1, naming it) instead of hanging or hiding it; the main thread stops at a checkpoint', async () => {
    const dir = await project({ rate: '20/s' });
    // A transform that throws out of every call stack, in worker threads only.
    writeFileSync(
      join(dir, 'crash.mjs'),
      `import { isMainThread } from 'node:worker_threads';
export default [{ name: 'crash-in-worker', kind: 'transform', apiVersion: 1, description: 'test', schema: { type: 'object' },
  create() {
    if (!isMainThread) setTimeout(() => { throw new Error('boom in a worker thread'); }, 300);
    return { process: (record) => record };
  } }];
`,
    );
    const text = readFileSync(join(dir, 'job.yaml'), 'utf8').replace('steps:\n', 'plugins: [./crash.mjs]\nsteps:\n  - use: crash-in-worker\n');
    writeFileSync(join(dir, 'job.yaml'), text);
    const result = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none', '--report', 'report.json'], { cwd: dir, timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout + result.stderr).toContain('worker thread 1 failed: boom in a worker thread');
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as { status: string; partitions: Array<{ status: string; worker?: string }> };
    expect(report.status).toBe('failed');
    expect(report.partitions.some((p) => p.worker === 'thread-2' && p.status === 'failed'), JSON.stringify(report.partitions)).toBe(true);
    expect(report.partitions.every((p) => p.status !== 'running')).toBe(true);
    expect(existsSync(join(dir, 'out', 'out.jsonl'))).toBe(false);
  });

  it('a worker thread that dies while it loads the job (before the run has planned) fails the run too, and the process ends', async () => {
    const dir = await project();
    writeFileSync(
      join(dir, 'crash.mjs'),
      `import { isMainThread } from 'node:worker_threads';
if (!isMainThread) setTimeout(() => { throw new Error('boom while loading'); }, 0);
export default [{ name: 'crash-on-load', kind: 'transform', apiVersion: 1, description: 'test', schema: { type: 'object' }, create: () => ({ process: (record) => record }) }];
`,
    );
    const text = readFileSync(join(dir, 'job.yaml'), 'utf8').replace('steps:\n', 'plugins: [./crash.mjs]\nsteps:\n  - use: crash-on-load\n');
    writeFileSync(join(dir, 'job.yaml'), text);
    const result = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout + result.stderr).toContain('worker thread 1 failed: boom while loading');
    expect(existsSync(join(dir, 'out', 'out.jsonl'))).toBe(false);
  });

  it('every thread loads only the built-in packages the job names: a file job runs while the sql package cannot load', async () => {
    const dir = await project();
    // A loader hook (in the main thread and in each worker thread) fails every module of the sql
    // package, as a native driver that did not build for this platform would.
    const hook = `export async function load(url, context, next) { if (url.includes('/plugins/sql/')) throw new Error('the sql package cannot load (test)'); return next(url, context); }`;
    writeFileSync(join(dir, 'no-sql.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`);
    const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${join(dir, 'no-sql.mjs')}` };
    const result = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir, env, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('threads: 2');
    expect(readFileSync(join(dir, 'out', 'out.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(RECORDS - Math.floor(RECORDS / 7));
  });

  it.each([
    [['--threads', '0'], '--threads must be a whole number from 1 to 256, or auto'],
    [['--threads', '2', '--dry-run'], '--threads cannot be used with --dry-run'],
    [['--threads', '2', '--limit', '5'], '--threads cannot be used with --limit'],
  ])('%j is a usage error', async (args, message) => {
    const dir = await project();
    const result = await sluice(['run', 'job.yaml', ...args], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('a JSON array output cannot be joined: exit 2 before anything runs', async () => {
    const dir = await project({ sink: 'out/out.json' });
    const result = await sluice(['run', 'job.yaml', '--threads', '2', '--progress', 'none'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--threads: sink 'sink' writes a JSON array (out/out.json), whose parts cannot be joined");
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });
});
