// Distributed runs survive a SIGKILLed worker: three `sluice worker` processes and a coordinator
// load 300,000 records into PostgreSQL (upsert, checkpoint in the same database); one worker is
// killed mid-partition, the survivors take its partition over after the lock timeout and resume
// from its checkpoint; the table ends with every record once and the report adds up.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availability, requireUp, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { tempDir } from './support/cli.js';
import {
  amountSum,
  coordinatorResult,
  countRows,
  createPgDatabase,
  diagnostics,
  dropKeys,
  fillSourceTable,
  pgConnection,
  signal,
  startCoordinator,
  startWorkers,
  stopAll,
  tableStats,
  uniquePrefix,
  waitForRows,
  waitForWorkers,
  writeJsonl,
} from './support/distributed.js';

const RECORDS = 300_000;
const PARTITIONS = 6;
const services = await availability();

// The sink is rate limited to 10 batches (10,000 records) a second per worker: unthrottled, the
// whole load takes about 2 s on this machine, and the kill would often land after the victim's
// partitions were done, proving nothing. Throttled, a partition (50 batches) takes about 5 s, so
// the kill at 30,000 rows hits every worker mid-partition. rateLimit is not part of the fingerprint.
const SINK = `sinks:
  - use: sql
    with: { connection: db, table: loaded, mode: upsert, key: id }
    rateLimit: 10/s
`;

let dir: string;
let jsonlSum = 0;

beforeAll(async () => {
  dir = tempDir('sluice-dist-crash-');
  jsonlSum = await writeJsonl(join(dir, 'input.jsonl'), RECORDS);
}, 60_000);

describe.skipIf(services.pg.skip)('distributed: a worker SIGKILLed mid-partition (PostgreSQL upsert, checkpoint.store: sql)', () => {
  let db: TestDatabase | undefined;
  let prefix: string | undefined;

  afterEach(async () => {
    await stopAll();
    if (prefix) await dropKeys(prefix);
    prefix = undefined;
    const done = db;
    db = undefined;
    await done?.drop();
  });

  /** Three workers, a coordinator, a SIGKILL once the table holds more than 30k rows. */
  async function runWithKill(job: string, expectedSum: number): Promise<void> {
    requireUp('pg', services.pg.up);
    const started = Date.now();
    prefix = uniquePrefix();
    const report = join(dir, `${prefix}.report.json`);
    const workers = startWorkers(3, { prefix, lockTimeout: '3s', cwd: dir });
    const connected = await waitForWorkers(prefix, 3, { timeoutMs: 10_000, procs: workers });
    const coordinator = startCoordinator(job, { prefix, partitions: PARTITIONS, report, cwd: dir });

    const reached = await waitForRows(db!, 'loaded', 30_000, { timeoutMs: 60_000, stop: () => !coordinator.alive() });
    expect(reached, `the table never held 30,000 rows while the coordinator ran\n${diagnostics(coordinator, ...workers)}`).toBe(true);
    const victim = workers[1]!;
    const rowsAtKill = await countRows(db!, 'loaded');
    expect(signal(victim, 'SIGKILL'), `worker 2 had already exited\n${diagnostics(victim)}`).toBe(true);
    await victim.exited;
    const killedAt = Date.now();

    const result = await coordinatorResult(coordinator, report, 120_000);
    const info = diagnostics(coordinator, ...workers);
    // Killed while the load was under way (else the test proved nothing).
    expect(rowsAtKill).toBeLessThan(RECORDS);
    expect(result.code, info).toBe(0);

    const stats = await tableStats(db!, 'loaded');
    expect(stats, info).toEqual({ rows: RECORDS, ids: RECORDS, min: 1, max: RECORDS, sum: expectedSum });

    // The report adds up: every record read once and written once, across all partitions.
    expect(result.report, `no report\n${info}`).toBeDefined();
    const r = result.report!;
    expect(r.status).toBe('done');
    expect(r.counters).toMatchObject({ read: RECORDS, written: RECORDS, deadLettered: 0, filtered: 0, skipped: 0 });
    expect(r.balanced).toBe(true);
    expect(r.partitions, info).toHaveLength(PARTITIONS);
    expect(r.partitions!.map((p) => p.status)).toEqual(Array(PARTITIONS).fill('done'));
    expect(r.partitions!.reduce((n, p) => n + p.records, 0)).toBe(RECORDS);
    expect(r.partitions!.reduce((n, p) => n + p.written, 0)).toBe(RECORDS);
    // The victim finished nothing (a partition takes ~5 s, it died ~1 s in): survivors ran all six,
    // and one of them picked the victim's partition up from its checkpoint rather than from scratch.
    expect(r.partitions!.filter((p) => p.worker === victim.name), info).toEqual([]);
    expect(workers.filter((w) => w !== victim).some((w) => /resuming/.test(w.stderr())), info).toBe(true);

    console.info(
      `[timing] ${job.split('/').pop()}: ${((Date.now() - started) / 1000).toFixed(1)} s in all; coordinator ${(result.ms / 1000).toFixed(1)} s; ` +
        `killed at ${rowsAtKill} rows, ${((result.ms - (killedAt - coordinator.startedAt)) / 1000).toFixed(1)} s from kill to exit; workers seen connected: ${connected}/3`,
    );
  }

  it('file source (300k JSONL, 6 partitions by byte range): exit 0, 300,000 rows once, report read = written = 300,000', async () => {
    db = await createPgDatabase();
    await db.knex.raw('create table loaded (id integer primary key, name text not null, amount integer not null)');
    const job = join(dir, 'file-to-pg.yaml');
    writeFileSync(
      job,
      `version: 1
name: dist-crash-file
connections:
${pgConnection(db)}
checkpoint: { store: sql, connection: db }
batch: { size: 1000 }
source:
  use: file
  with: { path: input.jsonl }
${SINK}`,
    );
    await runWithKill(job, jsonlSum);
  }, 150_000);

  it('sql source (300k rows, 6 partitions by key range): exit 0, 300,000 rows once, report read = written = 300,000', async () => {
    db = await createPgDatabase();
    await fillSourceTable(db, 'src', RECORDS);
    await db.knex.raw('create table loaded (id integer primary key, name text not null, amount integer not null)');
    const job = join(dir, 'pg-to-pg.yaml');
    writeFileSync(
      job,
      `version: 1
name: dist-crash-sql
connections:
${pgConnection(db)}
checkpoint: { store: sql, connection: db }
batch: { size: 1000 }
source:
  use: sql
  with: { connection: db, table: src, key: id }
${SINK}`,
    );
    await runWithKill(job, amountSum(RECORDS));
  }, 150_000);
});
