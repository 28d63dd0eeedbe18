// Distributed runs survive SIGKILLed workers: three `sluice worker` processes and a coordinator
// load 300,000 records into PostgreSQL (insert into a table without a unique key, checkpoint in the
// same database). Three times, a worker is killed while its partition has rows committed past that
// partition's checkpoint; a replacement worker joins; survivors take the partition over after the
// lock timeout and resume from its checkpoint. The table ends with every record exactly once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availability, requireUp, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { seeded, tempDir } from './support/cli.js';
import {
  coordinatorResult,
  countRows,
  createPgDatabase,
  diagnostics,
  dropKeys,
  expectedDigest,
  fillSourceTable,
  partitionStates,
  pgConnection,
  runningPartitions,
  signal,
  startCoordinator,
  startWorker,
  startWorkers,
  stopAll,
  tableDigest,
  uniquePrefix,
  waitForRows,
  waitForWorkers,
  writeJsonl,
  type Proc,
} from './support/distributed.js';

const RECORDS = 300_000;
const PARTITIONS = 6;
const services = await availability();

// The sql sink writes as fast as it can; a second sink, a no-op throttled to 10 batches (10,000
// records) a second per worker, holds each partition's checkpoint back: a partition (50 batches)
// takes about 5 s, and its sql sink is always a few committed batches past its checkpoint — the
// rows a resume must not write again. rateLimit is not part of the fingerprint.
const SINKS = `sinks:
  - use: sql
    with: { connection: db, table: loaded, mode: insert }
  - id: slow
    use: ./noop.mjs
    rateLimit: 10/s
`;

let dir: string;

beforeAll(async () => {
  dir = tempDir('sluice-dist-crash-');
  await writeJsonl(join(dir, 'input.jsonl'), RECORDS);
  writeFileSync(
    join(dir, 'noop.mjs'),
    `export default { kind: 'sink', apiVersion: 1, name: 'noop', description: 'writes nothing', schema: { type: 'object' }, create() { return { write: async () => {} }; } };\n`,
  );
}, 180_000);

describe.skipIf(services.pg.skip)('distributed: workers SIGKILLed mid-partition (PostgreSQL insert, checkpoint.store: sql)', () => {
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

  /**
   * Three workers and a coordinator; three times, once the table has grown by a random amount,
   * every worker is paused (SIGSTOP: nothing moves, no lock can pass on) and one whose running
   * partition has committed rows past its checkpoint is SIGKILLed; what it left is read while the
   * others are still paused, then they go on and a new worker joins.
   */
  async function runWithKills(name: string, job: string): Promise<void> {
    requireUp('pg', services.pg.up);
    prefix = uniquePrefix();
    const report = join(dir, `${prefix}.report.json`);
    let workers: Proc[] = startWorkers(3, { prefix, lockTimeout: '3s', cwd: dir });
    await waitForWorkers(prefix, 3, { timeoutMs: 10_000, procs: workers });
    const coordinator = startCoordinator(job, { prefix, partitions: PARTITIONS, report, cwd: dir });
    const all: Proc[] = [coordinator, ...workers];
    const random = seeded(name.length);
    const kills: Array<{ worker: string; partition: number; marker: number; checkpoint: number }> = [];
    // A random moment: 10,000–40,000 more rows than at the last kill.
    const nextTarget = async () => (await countRows(db!, 'loaded')) + 10_000 + Math.floor(random() * 30_000);
    let target = await nextTarget();
    while (kills.length < 3 && coordinator.alive()) {
      if (!(await waitForRows(db!, 'loaded', Math.min(target, RECORDS - 20_000), { timeoutMs: 60_000, stop: () => !coordinator.alive() }))) break;
      const live = workers.filter((w) => w.alive());
      for (const w of live) signal(w, 'SIGSTOP');
      try {
        const states = await partitionStates(db!, name);
        const ahead = (w: Proc) => runningPartitions(w).find((p) => { const s = states.get(p); return s !== undefined && !s.done && s.marker > s.checkpoint; });
        const victim = live.find((w) => ahead(w) !== undefined);
        if (!victim) {
          // None has rows past its checkpoint at this instant: look again a batch or two later.
          target = (await countRows(db!, 'loaded')) + 2_000;
          continue;
        }
        const partition = ahead(victim)!;
        signal(victim, 'SIGKILL');
        await victim.exited;
        // What the kill left, read before anyone can take the partition over.
        const left = (await partitionStates(db!, name)).get(partition)!;
        kills.push({ worker: victim.name, partition, marker: left.marker, checkpoint: left.checkpoint });
        const fresh = startWorker({ prefix, lockTimeout: '3s', cwd: dir, name: `worker-new-${kills.length}` });
        workers = [...workers.filter((w) => w !== victim), fresh];
        all.push(fresh);
        target = await nextTarget();
      } finally {
        for (const w of live) if (w.alive()) signal(w, 'SIGCONT');
      }
    }
    const result = await coordinatorResult(coordinator, report, 180_000);
    const info = diagnostics(...all);
    console.info(`[distributed crash] ${name}: kills ${JSON.stringify(kills)}`);
    // Every kill left committed rows beyond its partition's checkpoint: the ones a resume must skip.
    expect(kills.filter((k) => k.marker > k.checkpoint), `${JSON.stringify(kills)}\n${info}`).toHaveLength(3);
    expect(result.code, info).toBe(0);

    // Every row, sorted and hashed: a record written twice (no key absorbs it) or lost shows.
    expect(await tableDigest(db!, 'loaded'), info).toEqual(await expectedDigest(db!, RECORDS));

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
    // Killed partitions were picked up from their checkpoints rather than from scratch.
    expect(all.some((w) => /resuming/.test(w.stderr())), info).toBe(true);
  }

  it('file source (300k JSONL, 6 partitions by byte range): three workers killed with rows past their checkpoints; exit 0, every record exactly once', async () => {
    db = await createPgDatabase();
    await db.knex.raw('create table loaded (id integer not null, name text not null, amount integer not null)');
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
${SINKS}`,
    );
    await runWithKills('dist-crash-file', job);
  }, 240_000);

  it('sql source (300k rows, 6 partitions by key range): three workers killed with rows past their checkpoints; exit 0, every record exactly once', async () => {
    db = await createPgDatabase();
    await fillSourceTable(db, 'src', RECORDS);
    await db.knex.raw('create table loaded (id integer not null, name text not null, amount integer not null)');
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
${SINKS}`,
    );
    await runWithKills('dist-crash-sql', job);
  }, 240_000);
});
