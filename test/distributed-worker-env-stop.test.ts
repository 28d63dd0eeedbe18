// `sluice worker` and its own surroundings: the `.env` beside the job in the worker's checkout
// (not the coordinator's); SIGTERM while the worker waits for partitions (it leaves before the next
// one is queued); and SIGTERM while it waits for a partition's lease that another run still holds —
// it must leave at once, giving the partition back untouched, instead of waiting the lease out. Real Redis at 127.0.0.1:6379 (SLUICE_TEST_REDIS_URL), one key prefix per test.
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './support/cli.js';
import {
  connectRedis,
  coordinatorResult,
  diagnostics,
  dropKeys,
  exitOf,
  signal,
  startCoordinator,
  startWorker,
  stopAll,
  uniquePrefix,
  waitForWorkers,
} from './support/distributed.js';

const RECORDS = 500;
const prefixes: string[] = [];

afterEach(async () => {
  await stopAll();
  for (const prefix of prefixes.splice(0)) await dropKeys(prefix).catch(() => 0);
});

function newPrefix(): string {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  return prefix;
}

/** A checkout: `jobs/job.yaml` stamps each record of `jobs/in.jsonl` with ${env:TAG}. */
function checkout(name: string, env?: string): string {
  const dir = tempDir(`sluice-worker-${name}-`);
  mkdirSync(join(dir, 'jobs'));
  writeFileSync(join(dir, 'jobs/in.jsonl'), Array.from({ length: RECORDS }, (_, i) => `{"n":${i + 1}}\n`).join(''));
  writeFileSync(
    join(dir, 'jobs/job.yaml'),
    `version: 1
name: ${name}
source: { use: file, with: { path: in.jsonl } }
steps:
  - use: map
    with: { set: { tag: "'\${env:TAG}'" } }
sink: { use: file, with: { path: out/out.jsonl } }
`,
  );
  if (env !== undefined) writeFileSync(join(dir, 'jobs/.env'), env);
  return dir;
}

/** Every record the partitions of `dir`'s job wrote, in partition order. */
function written(dir: string): Array<{ n: number; tag: string }> {
  const out = join(dir, 'jobs/out');
  return readdirSync(out)
    .filter((f) => /^out\.p\d+\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readFileSync(join(out, f), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { n: number; tag: string }));
}

// The test's own environment must not decide what the job sees.
const clean = { TAG: undefined } as unknown as NodeJS.ProcessEnv;

describe('sluice worker', () => {
  it("reads the .env beside the job in its own checkout, not the coordinator's values", async () => {
    const coordinatorDir = checkout('worker-env', 'TAG=coordinator-side\n');
    const workerDir = join(tempDir('sluice-worker-copy-'), 'checkout');
    cpSync(coordinatorDir, workerDir, { recursive: true });
    writeFileSync(join(workerDir, 'jobs/.env'), 'TAG=worker-side\n');
    const prefix = newPrefix();
    const worker = startWorker({ prefix, cwd: workerDir, name: 'env-worker', env: clean });
    await waitForWorkers(prefix, 1, { procs: [worker] });
    const report = join(coordinatorDir, 'report.json');
    const coordinator = startCoordinator('jobs/job.yaml', { prefix, partitions: 2, report, cwd: coordinatorDir, env: clean });
    const result = await coordinatorResult(coordinator, report, 120_000);
    const info = diagnostics(coordinator, worker);
    expect(result.code, info).toBe(0);
    const records = written(workerDir);
    expect(records.map((r) => r.n), info).toEqual(Array.from({ length: RECORDS }, (_, i) => i + 1));
    expect(new Set(records.map((r) => r.tag)), info).toEqual(new Set(['worker-side']));
  }, 180_000);

  it('SIGTERM while waiting for partitions: exits 0 before the partition it would have taken is queued; another worker runs it', async () => {
    const dir = checkout('idle-stop', 'TAG=t\n');
    const prefix = newPrefix();
    const idle = startWorker({ prefix, cwd: dir, name: 'idle' });
    await waitForWorkers(prefix, 1, { procs: [idle] });
    while (!idle.stderr().includes('waiting for partitions') && idle.alive()) await sleep(20);
    expect(signal(idle, 'SIGTERM'), diagnostics(idle)).toBe(true);
    // The guard only keeps a broken build from hanging the suite; nothing is queued until it has exited.
    expect(await exitOf(idle, 240_000), diagnostics(idle)).toEqual({ code: 0, signal: null });
    expect(idle.stderr()).toMatch(/worker idle: stopped/);

    const report = join(dir, 'report.json');
    const coordinator = startCoordinator('jobs/job.yaml', { prefix, partitions: 1, report, cwd: dir });
    const next = startWorker({ prefix, cwd: dir, name: 'next' });
    const result = await coordinatorResult(coordinator, report, 120_000);
    const info = diagnostics(coordinator, idle, next);
    expect(result.code, info).toBe(0);
    expect(result.report?.partitions?.map((p) => [p.status, p.worker]), info).toEqual([['done', 'next']]);
    expect(idle.stderr(), info).not.toMatch(/started/);
  }, 300_000);

  it('SIGTERM while waiting for a lease another run holds: exits 0 at once, the lease untouched, the partition given back, not failed', async () => {
    const dir = checkout('lease-wait', 'TAG=t\n');
    const prefix = newPrefix();
    const redis = connectRedis();
    const monitor = await connectRedis().monitor();
    try {
      // The coordinator first, with no worker: it stores the plan under P:run:<job>:<fingerprint>.
      const report = join(dir, 'report.json');
      const coordinator = startCoordinator('jobs/job.yaml', { prefix, partitions: 1, report, cwd: dir });
      let fingerprint: string | undefined;
      while (!fingerprint) {
        if (!coordinator.alive()) throw new Error(`the coordinator ended before queueing\n${diagnostics(coordinator)}`);
        const [, keys] = await redis.scan('0', 'MATCH', `${prefix}:run:lease-wait:*`, 'COUNT', 1000);
        fingerprint = keys.map((k) => /^.*:run:lease-wait:([0-9a-f]+)$/.exec(k)?.[1]).find(Boolean);
        if (!fingerprint) await sleep(50);
      }
      // Another run (of another host, so never taken for a dead local process) holds p0's lease for an hour.
      const leaseKey = `${prefix}:checkpoint:lease-wait:${fingerprint}:p0:lock`;
      const holder = JSON.stringify({ pid: 4242, host: 'another-host.example', startedAt: new Date().toISOString(), token: 'held-by-the-test' });
      expect(await redis.set(leaseKey, holder, 'PX', 3_600_000, 'NX')).toBe('OK');

      // Proof that the worker is in its wait: it tried to take the lease, then read it twice (it waited once at least).
      let reads = 0;
      const waiting = new Promise<void>((resolve) =>
        monitor.on('monitor', (_time: string, args: string[]) => {
          if (args[0]?.toLowerCase() === 'get' && args[1] === leaseKey && ++reads === 2) resolve();
        }),
      );
      // A long lock timeout: without honouring SIGTERM the worker would wait 2 × 300 s + 5 s for the lease.
      const worker = startWorker({ prefix, cwd: dir, name: 'waiter', lockTimeout: '300s' });
      await Promise.race([
        waiting,
        worker.exited.then(() => {
          throw new Error(`the worker ended before waiting for the lease\n${diagnostics(worker, coordinator)}`);
        }),
      ]);
      expect(signal(worker, 'SIGTERM')).toBe(true);
      // The guard only keeps a broken build from hanging the suite; the properties are below.
      const stopped = await exitOf(worker, 240_000);
      const info = diagnostics(worker, coordinator);
      expect(stopped, info).toEqual({ code: 0, signal: null });
      // It left while the other run still held the lease: it did not wait it out, nor take it.
      expect(await redis.get(leaseKey), info).toBe(holder);
      expect(worker.stderr(), info).toMatch(/p0\/1 of lease-wait given back to the queue before it started: stopped while waiting for the lock/);
      expect(worker.stderr(), info).not.toMatch(/failed/);
      // Back in the queue's wait list, not failed; nothing written.
      expect(await redis.lrange(`${prefix}:jobs:wait`, 0, -1), info).toEqual([`lease-wait:${fingerprint}:p0`]);
      expect(await redis.zcard(`${prefix}:jobs:failed`), info).toBe(0);
      expect(readdirSync(join(dir, 'jobs')), info).not.toContain('out');
      expect(coordinator.alive(), info).toBe(true);

      // The other run lets go: a new worker takes the partition and the run completes, every record once.
      await redis.del(leaseKey);
      const next = startWorker({ prefix, cwd: dir, name: 'next' });
      const result = await coordinatorResult(coordinator, report, 120_000);
      const all = diagnostics(coordinator, worker, next);
      expect(result.code, all).toBe(0);
      expect(written(dir).map((r) => r.n), all).toEqual(Array.from({ length: RECORDS }, (_, i) => i + 1));
      expect(result.report?.partitions?.map((p) => [p.status, p.worker]), all).toEqual([['done', 'next']]);
    } finally {
      monitor.disconnect();
      redis.disconnect();
    }
  }, 300_000);
});
