// Distributed runs when things are not as planned: a source that cannot split, a worker that is
// there before the coordinator, Redis restarted (state lost) mid-run, a worker stopped with SIGTERM
// mid-partition. In every case nothing may be lost silently and nothing written twice.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availability, requireUp, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { tempDir } from './support/cli.js';
import {
  coordinatorResult,
  countRows,
  createPgDatabase,
  diagnostics,
  dropKeys,
  exitOf,
  expectedDigest,
  partitionStates,
  pgConnection,
  PrivateRedis,
  signal,
  startCoordinator,
  startWorker,
  startWorkers,
  stopAll,
  tableDigest,
  tableStats,
  uniquePrefix,
  waitForRows,
  waitForWorkers,
  writeJsonl,
  type Proc,
} from './support/distributed.js';
import { TestServer } from './support/http-server.js';

const services = await availability();

let dir: string;
let server: TestServer;

beforeAll(async () => {
  dir = tempDir('sluice-dist-faults-');
  server = await TestServer.start({ items: 3000, pageSize: 100 });
});
afterAll(async () => {
  await server?.close();
});

describe.skipIf(services.pg.skip)('distributed runs: faults (PostgreSQL sink, checkpoint.store: sql)', () => {
  let db: TestDatabase | undefined;
  const prefixes: Array<{ prefix: string; url?: string }> = [];
  let privateRedis: PrivateRedis | undefined;

  afterEach(async () => {
    await stopAll();
    for (const { prefix, url } of prefixes.splice(0)) await dropKeys(prefix, url).catch(() => 0);
    privateRedis = undefined;
    const done = db;
    db = undefined;
    await done?.drop();
    server.reset();
    server.pageDelayMs = 0;
  });

  function newPrefix(url?: string): string {
    const prefix = uniquePrefix();
    prefixes.push({ prefix, ...(url ? { url } : {}) });
    return prefix;
  }

  /**
   * A fresh database with an empty `loaded` table. `unique: false` leaves out the primary key, so
   * a record written twice shows as a duplicate row instead of being absorbed by the key.
   */
  async function database(unique: boolean): Promise<TestDatabase> {
    requireUp('pg', services.pg.up);
    db = await createPgDatabase();
    await db.knex.raw(`create table loaded (id integer ${unique ? 'primary key' : 'not null'}, name text, amount integer)`);
    return db;
  }

  function job(name: string, source: string, sink: string): string {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      `version: 1
name: ${name}
connections:
${pgConnection(db!)}
checkpoint: { store: sql, connection: db }
batch: { size: 1000 }
source:
${source}
sinks:
${sink}`,
    );
    return path;
  }

  const NOOP_SINK = `export default { kind: 'sink', apiVersion: 1, name: 'noop', description: 'writes nothing', schema: { type: 'object' }, create() { return { write: async () => {} }; } };\n`;
  const insertSink = (rate?: string) => `  - use: sql
    with: { connection: db, table: loaded, mode: insert }
${rate ? `    rateLimit: ${rate}\n` : ''}`;

  describe('a source that cannot split runs as one partition', () => {
    const cases = [
      {
        label: 'http source with cursor pagination',
        records: 3000,
        first: 0,
        source: () => `  use: http
  with:
    url: ${server.url}/data/cursor
    items: data.items
    pagination: cursor
    next: meta.next
    pageSize: 100`,
        prepare: async () => {},
      },
      {
        label: 'file source reading one JSON array file',
        records: 5000,
        first: 1,
        source: () => `  use: file
  with: { path: array.json }`,
        prepare: async () => {
          const records = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, name: `user-${i + 1}`, amount: i % 10 }));
          writeFileSync(join(dir, 'array.json'), JSON.stringify(records, null, 1));
        },
      },
    ];

    it.each(cases)('$label: "cannot split" on stderr, exit 0, every record written once', async ({ label, records, first, source, prepare }) => {
      const started = Date.now();
      await database(false);
      await prepare();
      const prefix = newPrefix();
      const workers = startWorkers(2, { prefix, cwd: dir });
      await waitForWorkers(prefix, 2, { procs: workers });
      const report = join(dir, `${prefix}.report.json`);
      const coordinator = startCoordinator(job(`unsplittable-${first}`, source(), insertSink()), { prefix, partitions: 4, report, cwd: dir });
      const result = await coordinatorResult(coordinator, report, 60_000);
      const info = diagnostics(coordinator, ...workers);
      expect(result.code, info).toBe(0);
      expect(result.stderr, info).toMatch(/cannot split/i);
      const stats = await tableStats(db!, 'loaded');
      expect({ rows: stats.rows, ids: stats.ids, min: stats.min, max: stats.max }, info).toEqual({ rows: records, ids: records, min: first, max: first + records - 1 });
      expect(result.report?.counters, info).toMatchObject({ read: records, written: records, deadLettered: 0 });
      expect(result.report?.partitions?.map((p) => p.status), info).toEqual(['done']);
      console.info(`[timing] cannot split (${label}): ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }, 180_000);
  });

  it('a worker started before the coordinator waits, then does the work: exit 0, every record once', async () => {
    const started = Date.now();
    const records = 20_000;
    await database(false);
    await writeJsonl(join(dir, 'early.jsonl'), records);
    const prefix = newPrefix();
    const worker = startWorker({ prefix, cwd: dir, name: 'early-worker' });
    await waitForWorkers(prefix, 1, { procs: [worker] });
    // Nothing to do yet: the worker must keep waiting, not exit.
    await sleep(3000);
    expect(worker.alive(), `the worker exited while waiting for work\n${diagnostics(worker)}`).toBe(true);
    const report = join(dir, `${prefix}.report.json`);
    const coordinator = startCoordinator(job('early-worker', `  use: file\n  with: { path: early.jsonl }`, insertSink()), { prefix, partitions: 4, report, cwd: dir });
    const result = await coordinatorResult(coordinator, report, 60_000);
    const info = diagnostics(coordinator, worker);
    expect(result.code, info).toBe(0);
    const stats = await tableStats(db!, 'loaded');
    expect({ rows: stats.rows, ids: stats.ids, min: stats.min, max: stats.max }, info).toEqual({ rows: records, ids: records, min: 1, max: records });
    expect(result.report?.counters, info).toMatchObject({ read: records, written: records, deadLettered: 0 });
    // Still there for the next run.
    expect(worker.alive(), info).toBe(true);
    console.info(`[timing] worker before coordinator: ${((Date.now() - started) / 1000).toFixed(1)} s (3 s of it waiting on purpose)`);
  }, 180_000);

  it('Redis SIGKILLed and restarted empty mid-run: exit 0 with every record, or exit 1 naming Redis and a rerun completes exactly once', async () => {
    const started = Date.now();
    const records = 100_000;
    await database(false);
    await writeJsonl(join(dir, 'restart.jsonl'), records);
    const expected = await expectedDigest(db!, records);
    privateRedis = await PrivateRedis.start();
    const url = privateRedis.url;
    const prefix = newPrefix(url);
    // The sql sink as fast as it can, a no-op second sink at 10 batches a second per worker holding
    // each partition's checkpoint back: 4 partitions of 25 batches, about 5 s for two workers.
    writeFileSync(join(dir, 'noop.mjs'), NOOP_SINK);
    const path = job('restart-mid-run', `  use: file\n  with: { path: restart.jsonl }`, `${insertSink()}  - id: slow\n    use: ./noop.mjs\n    rateLimit: 10/s\n`);
    let workers: Proc[] = startWorkers(2, { prefix, url, cwd: dir });
    await waitForWorkers(prefix, 2, { url, procs: workers });
    const report = join(dir, `${prefix}.report.json`);
    const coordinator = startCoordinator(path, { url, prefix, partitions: 4, report, cwd: dir });
    const reached = await waitForRows(db!, 'loaded', 20_000, { timeoutMs: 60_000, stop: () => !coordinator.alive() });
    expect(reached, `the table never held 20,000 rows while the coordinator ran\n${diagnostics(coordinator, ...workers)}`).toBe(true);
    const rowsAtKill = await countRows(db!, 'loaded');
    await privateRedis.kill();
    await sleep(500);
    await privateRedis.up();
    const first = await coordinatorResult(coordinator, report, 90_000);
    let info = diagnostics(coordinator, ...workers);
    expect(rowsAtKill, info).toBeLessThan(records);
    expect([0, 1], `exit ${first.code} (signal ${first.signal})\n${info}`).toContain(first.code);

    let outcome: string;
    if (first.code === 0) {
      // Recovered: then nothing may be missing.
      outcome = 'recovered (exit 0)';
      // Every row, sorted and hashed, in a table without a key: a duplicate or a loss shows.
      expect(await tableDigest(db!, 'loaded'), `exit 0 but the table is not every record once\n${info}`).toEqual(expected);
      expect(first.report?.counters, info).toMatchObject({ read: records, written: records, deadLettered: 0 });
    } else {
      // Failed: clearly, naming Redis (the job's name does not), and saying so in the report;
      // then a second coordinator finishes the job.
      expect(first.stderr, info).toMatch(/redis/i);
      expect(first.report?.status, info).toBe('failed');
      expect(first.report?.error ?? '', info).toMatch(/redis/i);
      // The restart mattered: the partitions stopped unfinished with rows in the table (they drain
      // and save their checkpoints in the database, which stayed up), so the rerun must resume them
      // from there — one that started them over would write those rows again.
      const left = [...(await partitionStates(db!, 'restart-mid-run')).values()];
      expect(left.some((p) => !p.done && p.checkpoint >= 0), `${JSON.stringify(left)}\n${info}`).toBe(true);
      const gone = workers.filter((w) => !w.alive()).length;
      workers = [...workers.filter((w) => w.alive()), ...startWorkers(gone, { prefix, url, cwd: dir, name: 'worker-again' })];
      await waitForWorkers(prefix, 2, { url, procs: workers });
      const report2 = join(dir, `${prefix}.report-2.json`);
      const again = startCoordinator(path, { url, prefix, partitions: 4, report: report2, cwd: dir });
      const second = await coordinatorResult(again, report2, 90_000);
      info = diagnostics(coordinator, again, ...workers);
      expect(second.code, info).toBe(0);
      expect(await tableDigest(db!, 'loaded'), info).toEqual(expected);
      expect(workers.some((w) => /resuming/.test(w.stderr())), info).toBe(true);
      expect(second.report?.counters, info).toMatchObject({ read: records, written: records, deadLettered: 0 });
      expect(second.report?.partitions?.map((p) => p.status), info).toEqual(['done', 'done', 'done', 'done']);
      const said = first.stderr.split('\n').find((line) => /redis/i.test(line))?.trim();
      outcome = `failed (exit 1: "${said}"), ${gone} worker(s) had exited, rerun exit 0 in ${(second.ms / 1000).toFixed(1)} s`;
    }
    console.info(`[timing] redis restart: ${((Date.now() - started) / 1000).toFixed(1)} s; killed at ${rowsAtKill} rows; ${outcome}`);
  }, 240_000);

  it('a worker sent SIGTERM mid-partition exits 0 promptly; another worker resumes its partition; every record once', async () => {
    const started = Date.now();
    const records = 80_000;
    await database(false);
    await writeJsonl(join(dir, 'term.jsonl'), records);
    const expected = await expectedDigest(db!, records);
    const prefix = newPrefix();
    // 5 batches a second per worker: a partition (20 batches) takes about 4 s.
    const path = job('sigterm', `  use: file\n  with: { path: term.jsonl }`, insertSink('5/s'));
    const workers = startWorkers(2, { prefix, cwd: dir });
    await waitForWorkers(prefix, 2, { procs: workers });
    const report = join(dir, `${prefix}.report.json`);
    const coordinator = startCoordinator(path, { prefix, partitions: 4, report, cwd: dir });
    const reached = await waitForRows(db!, 'loaded', 12_000, { timeoutMs: 60_000, stop: () => !coordinator.alive() });
    expect(reached, `the table never held 12,000 rows while the coordinator ran\n${diagnostics(coordinator, ...workers)}`).toBe(true);
    const rowsAtTerm = await countRows(db!, 'loaded');
    const victim = workers[0]!;
    const termAt = Date.now();
    expect(signal(victim, 'SIGTERM'), `worker 1 had already exited\n${diagnostics(victim)}`).toBe(true);
    const stopped = await exitOf(victim, 60_000);
    const stopMs = Date.now() - termAt;
    const result = await coordinatorResult(coordinator, report, 90_000);
    const info = diagnostics(coordinator, ...workers);
    expect(stopped, info).toEqual({ code: 0, signal: null });
    // Promptly: it gave its partition back part-way (its own account of the records it had read),
    // instead of finishing the partition first — whatever the machine's load made the wall clock say.
    const given = /stopped after ([\d,]+) records/.exec(victim.stderr());
    expect(given, info).not.toBeNull();
    expect(Number(given![1]!.replaceAll(',', '')), info).toBeLessThan(records / 4);
    expect(rowsAtTerm).toBeLessThan(records);
    expect(result.code, info).toBe(0);
    expect(await tableDigest(db!, 'loaded'), info).toEqual(expected);
    expect(result.report?.counters, info).toMatchObject({ read: records, written: records, deadLettered: 0 });
    expect(result.report?.partitions?.map((p) => p.status), info).toEqual(['done', 'done', 'done', 'done']);
    // Given back with its checkpoint, and picked up from there by the other worker.
    expect(victim.stderr(), info).toMatch(/given back/i);
    expect(workers[1]!.stderr(), info).toMatch(/resuming/i);
    console.info(
      `[timing] SIGTERM: ${((Date.now() - started) / 1000).toFixed(1)} s in all; worker stopped ${stopMs} ms after SIGTERM (at ${rowsAtTerm} rows); coordinator ${(result.ms / 1000).toFixed(1)} s`,
    );
  }, 180_000);
});
