// Distributed runs end to end: `sluice worker` processes and a `sluice run --workers` coordinator
// as real child processes, a Redis key space per test, a private redis-server that a test may kill,
// and a PostgreSQL database per test. Every process started here is remembered, so `stopAll()` in
// an afterEach leaves nothing running even when the test failed half-way.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { createDatabase, rows, type TestDatabase } from '../../packages/plugins/sql/test/services.js';
import { BIN, ROOT, type CliResult } from './cli.js';

export const REDIS_URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The queue key every coordinator and worker of these tests signs and checks messages with. */
export const QUEUE_KEY = 'test-queue-key-0123456789abcdef';

/** A child process with its output collected (for assertions and for failure messages). */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly startedAt: number;
  alive(): boolean;
}

const running = new Set<Proc>();

function track(name: string, child: ChildProcess): Proc {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      stderr += `\n[spawn error] ${String(error)}`;
      resolve({ code: null, signal: null });
    });
  });
  const proc: Proc = {
    name,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    startedAt: Date.now(),
    alive: () => child.exitCode === null && child.signalCode === null,
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

function sluiceProc(name: string, args: string[], cwd: string = ROOT, env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: '1', SLUICE_QUEUE_KEY: QUEUE_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(name, child);
}

/** Waits for `proc` to exit; after `timeoutMs` kills it and throws with its output. */
export async function exitOf(proc: Proc, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const result = await Promise.race([proc.exited, timeout]).finally(() => clearTimeout(timer));
  if (result === 'timeout') {
    proc.child.kill('SIGKILL');
    await proc.exited;
    throw new Error(`${proc.name} did not exit within ${timeoutMs}ms\n${outputOf(proc)}`);
  }
  return result;
}

/** Sends `signal` to a live process (no-op when it is gone). */
export function signal(proc: Proc, sig: NodeJS.Signals): boolean {
  return proc.alive() && proc.child.kill(sig);
}

/** SIGKILLs every process this module started that is still running, and waits for them. */
export async function stopAll(): Promise<void> {
  const procs = [...running];
  for (const p of procs) if (p.alive()) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => Promise.race([p.exited, sleep(5000)])));
}

/** Output of a process for a failure message. */
export function outputOf(proc: Proc): string {
  const tail = (s: string) => (s.length > 4000 ? `…${s.slice(-4000)}` : s);
  return `--- ${proc.name} (exit ${proc.child.exitCode ?? proc.child.signalCode ?? 'running'}) ---\nstdout: ${tail(proc.stdout())}\nstderr: ${tail(proc.stderr())}`;
}

/** Output of several processes, for `expect(…, diagnostics(…))`. */
export function diagnostics(...procs: Array<Proc | undefined>): string {
  return procs
    .filter((p): p is Proc => p !== undefined)
    .map(outputOf)
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Workers and the coordinator

export interface WorkerOptions {
  url?: string;
  prefix: string;
  concurrency?: number;
  lockTimeout?: string;
  cwd?: string;
  name?: string;
  env?: NodeJS.ProcessEnv;
  extra?: string[];
}

export function startWorker(options: WorkerOptions): Proc {
  const args = ['worker', '--queue', options.url ?? REDIS_URL, '--prefix', options.prefix, '--lock-timeout', options.lockTimeout ?? '3s'];
  if (options.concurrency !== undefined) args.push('--concurrency', String(options.concurrency));
  // The same name in the worker's messages, the report's partitions and our diagnostics.
  if (options.name !== undefined) args.push('--name', options.name);
  args.push(...(options.extra ?? []));
  return sluiceProc(options.name ?? 'worker', args, options.cwd, options.env);
}

export function startWorkers(n: number, options: WorkerOptions): Proc[] {
  return Array.from({ length: n }, (_, i) => startWorker({ ...options, name: `${options.name ?? 'worker'}-${i + 1}` }));
}

/**
 * Waits until `n` BullMQ workers of `prefix` are connected (their blocking connections are named
 * `${prefix}:<queue>`), or `timeoutMs` passed; returns how many were seen. Workers that are slow to
 * connect only delay the first partitions, so callers may go on either way.
 */
export async function waitForWorkers(prefix: string, n: number, options: { url?: string; timeoutMs?: number; procs?: Proc[] } = {}): Promise<number> {
  const redis = connectRedis(options.url);
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let seen = 0;
  try {
    while (Date.now() < deadline) {
      const list = String(await redis.client('LIST').catch(() => ''));
      seen = list
        .split('\n')
        .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
        .filter((name) => name.startsWith(`${prefix}:`) && !name.endsWith(':qe')).length;
      if (seen >= n) return seen;
      // Workers that died (a usage error, say) will never connect.
      if (options.procs && !options.procs.some((p) => p.alive())) return seen;
      await sleep(100);
    }
    return seen;
  } finally {
    redis.disconnect();
  }
}

export interface CoordinatorOptions {
  url?: string;
  prefix: string;
  partitions?: number;
  fresh?: boolean;
  /** Where the report goes; default `<job folder>/report-<n>.json`. */
  report: string;
  cwd?: string;
  extra?: string[];
  env?: NodeJS.ProcessEnv;
}

export function startCoordinator(job: string, options: CoordinatorOptions): Proc {
  const args = ['run', job, '--workers', options.url ?? REDIS_URL, '--prefix', options.prefix, '--progress', 'none', '--report', options.report];
  if (options.partitions !== undefined) args.push('--partitions', String(options.partitions));
  if (options.fresh) args.push('--fresh');
  args.push(...(options.extra ?? []));
  return sluiceProc('coordinator', args, options.cwd, options.env);
}

/** The run report's parts these tests read (see packages/cli/report.schema.json). */
export interface Report {
  status: string;
  error: string | null;
  balanced: boolean;
  counters: { read: number; written: number; deadLettered: number; filtered: number; skipped: number; produced: number };
  partitions?: PartitionEntry[];
  [k: string]: unknown;
}

/** One entry of the report's `partitions` (distributed runs). */
export interface PartitionEntry {
  index: number;
  status: string;
  worker: string | null;
  records: number;
  written: number;
  error: string | null;
}

export interface CoordinatorResult extends CliResult {
  report: Report | undefined;
  ms: number;
}

/** Waits for the coordinator to exit (killing it after `timeoutMs`) and reads its report. */
export async function coordinatorResult(proc: Proc, report: string, timeoutMs: number): Promise<CoordinatorResult> {
  const { code, signal: sig } = await exitOf(proc, timeoutMs);
  let parsed: Report | undefined;
  if (existsSync(report)) parsed = JSON.parse(readFileSync(report, 'utf8')) as Report;
  return { code, signal: sig, stdout: proc.stdout(), stderr: proc.stderr(), report: parsed, ms: Date.now() - proc.startedAt };
}

// ---------------------------------------------------------------------------------------------
// Redis

export function connectRedis(url = REDIS_URL): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, connectTimeout: 3000 });
  // A test that kills Redis on purpose expects these; the commands themselves still reject.
  redis.on('error', () => {});
  return redis;
}

/** A key prefix no other test uses. */
export function uniquePrefix(): string {
  return `sluice-test-${randomUUID()}`;
}

/** Deletes every key starting with `prefix` (SCAN + DEL); returns how many. */
export async function dropKeys(prefix: string, url = REDIS_URL): Promise<number> {
  const redis = connectRedis(url);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A redis-server of our own (no persistence), so a test can kill it and start it again. */
export class PrivateRedis {
  proc: Proc | undefined;
  private constructor(
    readonly port: number,
    /** More redis-server arguments (`--requirepass`, `--user`, TLS with `--port 0 --tls-port PORT`). */
    private readonly extra: string[],
    /** How our own readiness check connects (credentials, TLS). */
    private readonly client: RedisOptions,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(options: { args?: (port: number) => string[]; client?: RedisOptions } = {}): Promise<PrivateRedis> {
    const port = await freePort();
    const redis = new PrivateRedis(port, options.args?.(port) ?? [], options.client ?? {});
    await redis.up();
    return redis;
  }

  /** Starts the server on its port (again) and waits until it answers PING. */
  async up(timeoutMs = 10_000): Promise<void> {
    const plain = this.extra.includes('--tls-port') ? [] : ['--port', String(this.port)];
    const child = spawn('redis-server', [...plain, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...this.extra], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = track(`redis-server:${this.port}`, child);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.proc.alive()) throw new Error(`redis-server on port ${this.port} exited\n${outputOf(this.proc)}`);
      const client = new Redis({ host: '127.0.0.1', port: this.port, ...this.client, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
      client.on('error', () => {});
      try {
        await client.connect();
        if ((await client.ping()) === 'PONG') return;
      } catch {
        // not yet
      } finally {
        client.disconnect();
      }
      await sleep(50);
    }
    throw new Error(`redis-server on port ${this.port} did not answer within ${timeoutMs}ms\n${outputOf(this.proc)}`);
  }

  /** SIGKILL: everything it held is gone (no persistence). */
  async kill(): Promise<void> {
    if (this.proc?.alive()) {
      this.proc.child.kill('SIGKILL');
      await this.proc.exited;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Data and PostgreSQL

/** Writes `n` JSON Lines records `{ id, name, amount }` with ids 1…n; returns the sum of amounts. */
export async function writeJsonl(path: string, n: number): Promise<number> {
  const out = createWriteStream(path);
  let sum = 0;
  let chunk = '';
  for (let id = 1; id <= n; id++) {
    const amount = (id * 7919) % 1000;
    sum += amount;
    chunk += `${JSON.stringify({ id, name: `user-${id}`, amount })}\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return sum;
}

/** The expected sum of `amount` over ids 1…n, as `writeJsonl` and `fillSourceTable` make them. */
export function amountSum(n: number): number {
  let sum = 0;
  for (let id = 1; id <= n; id++) sum += (id * 7919) % 1000;
  return sum;
}

/** A PostgreSQL database of this test's own (random name, dropped by `drop()`). */
export function createPgDatabase(): Promise<TestDatabase> {
  return createDatabase('pg');
}

/** Fills `table` (made here) with ids 1…n, the same records `writeJsonl` writes. */
export async function fillSourceTable(db: TestDatabase, table: string, n: number): Promise<void> {
  await db.knex.raw(`create table ${table} (id integer primary key, name text not null, amount integer not null)`);
  await db.knex.raw(`insert into ${table} (id, name, amount) select g, 'user-' || g, (g::bigint * 7919) % 1000 from generate_series(1, ?::int) g`, [n]);
  await db.knex.raw(`analyze ${table}`);
}

export interface TableStats {
  rows: number;
  ids: number;
  min: number | null;
  max: number | null;
  sum: number;
}

export async function tableStats(db: TestDatabase, table: string): Promise<TableStats> {
  const [r] = await rows(db.knex, `select count(*) as n, count(distinct id) as ids, min(id) as lo, max(id) as hi, coalesce(sum(amount), 0) as total from ${table}`);
  return { rows: Number(r!.n), ids: Number(r!.ids), min: r!.lo === null ? null : Number(r!.lo), max: r!.hi === null ? null : Number(r!.hi), sum: Number(r!.total) };
}

/** Rows in `table` now (0 when it cannot be read). */
export async function countRows(db: TestDatabase, table: string): Promise<number> {
  const r = await rows(db.knex, `select count(*) as n from ${table}`).catch(() => [{ n: 0 }]);
  return Number(r[0]!.n);
}

/**
 * Polls until `table` holds more than `n` rows; gives up (returns false) when `timeoutMs` passes or
 * `stop()` says so (the coordinator exited).
 */
export async function waitForRows(db: TestDatabase, table: string, n: number, options: { timeoutMs: number; stop?: () => boolean }): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if ((await countRows(db, table)) > n) return true;
    if (options.stop?.()) return false;
    await sleep(50);
  }
  return false;
}

/** The PostgreSQL connection line of a job. */
export function pgConnection(db: TestDatabase, name = 'db'): string {
  return `  ${name}: { client: pg, url: "${db.url}" }`;
}

export function jobPath(dir: string, name = 'job.yaml'): string {
  return join(dir, name);
}

// ---------------------------------------------------------------------------------------------
// Exactly-once checks that can see a duplicate

/**
 * Count and MD5 of every row of `table` (id, name, amount), sorted: the same for the same multiset.
 * On a table without a unique key a record written twice changes both.
 */
export async function tableDigest(db: TestDatabase, table: string): Promise<{ rows: number; md5: string }> {
  const [r] = await rows(
    db.knex,
    `select count(*) as n, md5(coalesce(string_agg(id || ':' || name || ':' || amount, ',' order by id, name, amount), '')) as h from ${table}`,
  );
  return { rows: Number(r!.n), md5: String(r!.h) };
}

/** What `tableDigest` must say once ids 1…n of `writeJsonl` / `fillSourceTable` are loaded once each. */
export async function expectedDigest(db: TestDatabase, n: number): Promise<{ rows: number; md5: string }> {
  const [r] = await rows(
    db.knex,
    `select count(*) as n, md5(coalesce(string_agg(g || ':user-' || g || ':' || (g::bigint * 7919) % 1000, ',' order by g), '')) as h from generate_series(1, ?::int) g`,
    [n],
  );
  return { rows: Number(r!.n), md5: String(r!.h) };
}

/** Per partition (`job.pN`) of a job with `checkpoint.store: sql`: the sql sink's marker and the checkpoint's seq. */
export async function partitionStates(db: TestDatabase, job: string): Promise<Map<number, { marker: number; checkpoint: number; done: boolean }>> {
  const states = new Map<number, { marker: number; checkpoint: number; done: boolean }>();
  const index = (key: string) => Number(key.slice(job.length + 2));
  for (const m of await rows(db.knex, `select job, seq from sluice_sink_markers where job like ?`, [`${job}.p%`])) {
    states.set(index(String(m.job)), { marker: Number(m.seq), checkpoint: -1, done: false });
  }
  for (const c of await rows(db.knex, `select job, body from sluice_checkpoints where job like ?`, [`${job}.p%`])) {
    const body = JSON.parse(String(c.body)) as { seq: number; done: boolean };
    const at = index(String(c.job));
    states.set(at, { marker: states.get(at)?.marker ?? -1, checkpoint: body.seq, done: body.done });
  }
  return states;
}

/** Partitions a worker has said it started and not (yet) said it finished, from its `pI/N of JOB …` lines. */
export function runningPartitions(proc: Proc): number[] {
  const running = new Set<number>();
  for (const line of proc.stderr().split('\n')) {
    const m = / p(\d+)\/\d+ of \S+ (started|done|stopped|failed)/.exec(line);
    if (!m) continue;
    if (m[2] === 'started') running.add(Number(m[1]));
    else running.delete(Number(m[1]));
  }
  return [...running];
}
