// A distributed run end to end, the plain case: two `sluice worker` processes (one of them started
// before any coordinator) and `sluice run --workers` on a glob of JSON Lines files through a map
// into a file sink; every record lands exactly once in the per-partition files and the report adds
// up. Also: Redis unreachable (exit 1, a clear line) and an invalid job (exit 2). Real Redis at
// 127.0.0.1:6379 (SLUICE_TEST_REDIS_URL), one key prefix per test, deleted afterwards.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv } from 'ajv';
import { Redis } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { finished, ROOT, sluice, start, tempDir } from './support/cli.js';

const REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUEUE_KEY = 'test-queue-key-0123456789abcdef';
const FILES = 4;
const PER_FILE = 5000;
const RECORDS = FILES * PER_FILE;

type Child = ChildProcess & { output: { stdout: string; stderr: string } };

const validateReport = new Ajv({ strict: true, allErrors: true, validateFormats: false }).compile(
  JSON.parse(readFileSync(join(ROOT, 'packages/cli/report.schema.json'), 'utf8')) as object,
);

let dir: string;
const children: Child[] = [];
const prefixes: string[] = [];

function newPrefix(): string {
  const prefix = `sluice-test-${randomUUID()}`;
  prefixes.push(prefix);
  return prefix;
}

function worker(prefix: string, name: string): Child {
  const child = start(['worker', '--queue', REDIS_URL, '--prefix', prefix, '--lock-timeout', '3s', '--name', name], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY } });
  children.push(child);
  return child;
}

/** Waits until a worker says it is waiting for partitions (it is connected), or fails with its output. */
async function ready(child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!child.output.stderr.includes('waiting for partitions')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`worker not ready\n${child.output.stderr}`);
    await sleep(50);
  }
}

async function dropKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const output = (...procs: Child[]) => procs.map((p, i) => `--- process ${i + 1}\nstdout: ${p.output.stdout}\nstderr: ${p.output.stderr}`).join('\n');

beforeAll(async () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new Error(`these tests need Redis at ${REDIS_URL} (set SLUICE_TEST_REDIS_URL): ${(error as Error).message}`);
  } finally {
    redis.disconnect();
  }
  dir = tempDir('sluice-dist-basic-');
  mkdirSync(join(dir, 'data'));
  for (let f = 0; f < FILES; f++) {
    const lines: string[] = [];
    for (let i = 1; i <= PER_FILE; i++) {
      const id = f * PER_FILE + i;
      lines.push(JSON.stringify({ id, name: `user-${id}` }));
    }
    writeFileSync(join(dir, 'data', `part-${f}.jsonl`), `${lines.join('\n')}\n`);
  }
  // 20 batches of 500 a second per worker: a partition (10 batches) takes about half a second, so both workers get some.
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: dist-basic
batch: { size: 500 }
source:
  use: file
  with: { path: "data/*.jsonl" }
steps:
  - id: double
    use: map
    with:
      set:
        twice: record.id * 2
sink:
  use: file
  with: { path: out/result.jsonl }
  rateLimit: 20/s
`,
  );
  writeFileSync(join(dir, 'invalid.yaml'), 'version: 1\nname: invalid\nsource: { use: file, with: { path: x.jsonl } }\nsteps:\n  - use: filter\n    with: { where: "record.a >" }\nsink: { use: file, with: { path: out/x.jsonl } }\n');
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const prefix of prefixes.splice(0)) await dropKeys(prefix);
});

describe('sluice run --workers', () => {
  it('two workers (one there before the coordinator) run every partition: each record once, the report adds up', async () => {
    const prefix = newPrefix();
    const early = worker(prefix, 'early');
    await ready(early);
    // Nothing queued yet: the worker waits instead of exiting.
    await sleep(1000);
    expect(early.exitCode, output(early)).toBeNull();
    const late = worker(prefix, 'late');
    await ready(late);

    const report = join(dir, 'report.json');
    const coordinator = start(['run', 'job.yaml', '--workers', REDIS_URL, '--prefix', prefix, '--partitions', '4', '--progress', 'plain', '--report', report], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY } });
    children.push(coordinator);
    const result = await finished(coordinator, 45_000);
    const info = output(coordinator, early, late);
    expect(result.code, info).toBe(0);
    expect(result.stdout, info).toContain('dist-basic: done');
    expect(result.stdout, info).toMatch(/partitions: 4 \(4 done\)/);

    // The union of the per-partition files holds every record exactly once, mapped.
    const files = readdirSync(join(dir, 'out')).filter((f) => /^result\.p\d+\.jsonl$/.test(f));
    expect(files.sort(), info).toEqual(['result.p0.jsonl', 'result.p1.jsonl', 'result.p2.jsonl', 'result.p3.jsonl']);
    const seen = new Map<number, number>();
    for (const file of files) {
      for (const line of readFileSync(join(dir, 'out', file), 'utf8').split('\n').filter(Boolean)) {
        const record = JSON.parse(line) as { id: number; twice: number };
        expect(record.twice).toBe(record.id * 2);
        seen.set(record.id, (seen.get(record.id) ?? 0) + 1);
      }
    }
    expect(seen.size, info).toBe(RECORDS);
    expect([...seen.values()].every((n) => n === 1), info).toBe(true);
    expect(Math.min(...seen.keys())).toBe(1);
    expect(Math.max(...seen.keys())).toBe(RECORDS);

    // The report: the local run's schema, counters summed over the partitions, one entry per partition.
    const r = JSON.parse(readFileSync(report, 'utf8')) as {
      status: string;
      balanced: boolean;
      counters: Record<string, number>;
      thisRun: Record<string, number>;
      steps: Array<{ id: string; in: number; out: number }>;
      partitions: Array<{ index: number; status: string; worker: string | null; records: number; written: number }>;
    };
    expect(validateReport(r), JSON.stringify(validateReport.errors)).toBe(true);
    expect(r.status).toBe('done');
    expect(r.balanced).toBe(true);
    expect(r.counters).toMatchObject({ read: RECORDS, written: RECORDS, filtered: 0, deadLettered: 0, skipped: 0 });
    expect(r.thisRun).toMatchObject({ read: RECORDS, written: RECORDS });
    expect(r.steps.map((s) => [s.id, s.in, s.out])).toEqual([
      ['source', 0, RECORDS],
      ['double', RECORDS, RECORDS],
      ['sink', RECORDS, RECORDS],
    ]);
    expect(r.partitions.map((p) => [p.index, p.status])).toEqual([0, 1, 2, 3].map((i) => [i, 'done']));
    expect(r.partitions.reduce((sum, p) => sum + p.records, 0)).toBe(RECORDS);
    expect(r.partitions.reduce((sum, p) => sum + p.written, 0)).toBe(RECORDS);
    for (const p of r.partitions) expect(['early', 'late']).toContain(p.worker);

    // The worker that was there first took work, and says so on stderr.
    expect(early.output.stderr, info).toMatch(/worker early: p\d\/4 of dist-basic started/);
    expect(early.output.stderr, info).toMatch(/worker early: p\d\/4 of dist-basic done: [\d,]+ records/);
    // Both workers are still there for the next run.
    expect(early.exitCode, info).toBeNull();
    expect(late.exitCode, info).toBeNull();

    // Started again for the same job: every partition is done already, nothing runs again.
    const before = files.map((f) => readFileSync(join(dir, 'out', f), 'utf8'));
    const startsBefore = (early.output.stderr + late.output.stderr).match(/started/g)?.length ?? 0;
    const again = await sluice(['run', 'job.yaml', '--workers', REDIS_URL, '--prefix', prefix, '--progress', 'none', '--report', join(dir, 'report-2.json')], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY }, timeoutMs: 60_000 });
    expect(again.code, output(early, late) + again.stderr).toBe(0);
    const r2 = JSON.parse(readFileSync(join(dir, 'report-2.json'), 'utf8')) as { counters: { read: number }; thisRun: { read: number }; resumed: boolean };
    expect(r2.counters.read).toBe(RECORDS);
    expect(r2.thisRun.read).toBe(0);
    expect(r2.resumed).toBe(true);
    expect(files.map((f) => readFileSync(join(dir, 'out', f), 'utf8'))).toEqual(before);
    expect((early.output.stderr + late.output.stderr).match(/started/g)?.length ?? 0).toBe(startsBefore);

    // SIGTERM: an idle worker leaves at once with exit 0.
    early.kill('SIGTERM');
    const stopped = await finished(early, 10_000);
    expect(stopped.code, stopped.stderr).toBe(0);
  }, 180_000);

  it('Redis unreachable: exit 1 with one clear line, no stack, no password', async () => {
    const port = await freePort();
    const url = `redis://sluice:s3cret-pass@127.0.0.1:${port}`;
    const result = await sluice(['run', 'job.yaml', '--workers', url, '--prefix', newPrefix(), '--progress', 'none'], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY }, timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
    expect(result.stderr).not.toContain('s3cret-pass');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('internal error');

    const workerResult = await sluice(['worker', '--queue', url], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY }, timeoutMs: 60_000 });
    expect(workerResult.code, workerResult.stderr).toBe(1);
    expect(workerResult.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
    expect(workerResult.stderr).not.toContain('s3cret-pass');
    expect(workerResult.stderr).not.toMatch(/\n\s+at /);
  }, 180_000);

  it('an invalid job: exit 2 before anything is queued; --dry-run and --limit are usage errors', async () => {
    const prefix = newPrefix();
    const invalid = await sluice(['run', 'invalid.yaml', '--workers', REDIS_URL, '--prefix', prefix], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY }, timeoutMs: 60_000 });
    expect(invalid.code, invalid.stderr).toBe(2);
    expect(invalid.stderr).toMatch(/invalid\.yaml:6:\d+\s+steps\[0\]\.with\.where/);
    const redis = new Redis(REDIS_URL);
    try {
      const [, keys] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 1000);
      expect(keys).toEqual([]);
    } finally {
      redis.disconnect();
    }
    for (const flag of [['--dry-run'], ['--limit', '10']]) {
      const usage = await sluice(['run', 'job.yaml', '--workers', REDIS_URL, ...flag], { cwd: dir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY }, timeoutMs: 60_000 });
      expect(usage.code, usage.stderr).toBe(2);
      expect(usage.stderr).toContain(`${flag[0]} cannot be used with --workers`);
    }
  }, 180_000);
});
