// Exactly-once into a database: SIGKILL a file → sql job while rows beyond its checkpoint are
// committed, resume, and the table (no unique key, so a duplicate would stay) holds every record
// exactly once — with the checkpoint kept in the same database.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';
import { checkpointPast, followEvents } from './support/events.js';

const BATCH = 500;
/**
 * Fixed batches of 500, and the batches of a job without `batch.size` (pages merged into batches of
 * 1,000, 2,000, 4,000, then 5,000 records): a resume must cut the same batches, or the markers skip rows.
 * `step`: records between kill moments.
 */
const variants = [
  { label: 'batches of 500', batch: `batch: { size: ${BATCH}, inFlight: 4 }`, records: 30_000, step: BATCH, slow: 'slow.mjs' },
  { label: 'growing batches (no batch.size)', batch: 'batch: { inFlight: 4 }', records: 80_000, step: 3000, slow: 'slow-per-record.mjs' },
];
const services = await availability();

interface Row {
  id: number;
  name: string;
  amount: number;
  note: string;
}

/** One line per row, in (id, name, amount, note) order: the same text for the same multiset. */
const rowLine = (r: Row) => `${r.id}\t${r.name}\t${r.amount}\t${r.note}\n`;

let dir: string;
const expected = new Map<number, { count: number; sha256: string }>();

beforeAll(() => {
  dir = tempDir('sluice-sql-crash-');
  for (const { records: count } of variants) {
    const random = seeded(11);
    const records: Row[] = [];
    for (let id = 0; id < count; id++) records.push({ id, name: `user-${id}`, amount: Math.floor(random() * 1000), note: 'x'.repeat(Math.floor(random() * 40)) });
    writeFileSync(join(dir, `input-${count}.jsonl`), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const hash = createHash('sha256');
    for (const r of records) hash.update(rowLine(r));
    expected.set(count, { count, sha256: hash.digest('hex') });
  }
  writeFileSync(
    join(dir, 'slow.mjs'),
    `export default { kind: 'sink', apiVersion: 1, name: 'slow', description: 'waits 40ms per batch', schema: { type: 'object' },
  create() { return { write: () => new Promise((resolve) => setTimeout(resolve, 40)) }; } };\n`,
  );
  writeFileSync(
    join(dir, 'slow-per-record.mjs'),
    `export default { kind: 'sink', apiVersion: 1, name: 'slow', description: 'waits 40ms per 500 records', schema: { type: 'object' },
  create() { return { bulk: true, write: (records) => new Promise((resolve) => setTimeout(resolve, records.length * 40 / 500)) }; } };\n`,
  );
});

/** Every row of the table, sorted, hashed in order: a missing, changed or duplicated row shows. */
async function tableDigest(db: TestDatabase): Promise<{ count: number; sha256: string }> {
  const all = (await rows(db.knex, 'select id, name, amount, note from loaded order by id, name, amount, note')) as unknown as Row[];
  const hash = createHash('sha256');
  for (const r of all) hash.update(rowLine({ id: Number(r.id), name: r.name, amount: Number(r.amount), note: r.note }));
  return { count: all.length, sha256: hash.digest('hex') };
}

// No unique constraint on any of them: only the marker stands between a resume and duplicate rows.
const cases: Array<{ client: Client; ddl: string }> = [
  { client: 'pg', ddl: 'create table loaded (id integer not null, name text, amount integer, note text)' },
  { client: 'mysql2', ddl: 'create table loaded (id integer not null, name text, amount integer, note text)' },
  { client: 'better-sqlite3', ddl: 'create table loaded (id integer not null, name text, amount integer, note text)' },
];

describe.each(cases)('crash safety of file → sql insert ($client) with checkpoint.store: sql', ({ client, ddl }) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    it.each(variants)('$label: SIGKILLed three times with committed rows past the checkpoint, resumed each time: the table holds every record exactly once', async ({ batch, records: RECORDS, step, slow }) => {
      db = await createDatabase(client, dir);
      await db.knex.raw(ddl);
      const job = join(dir, `job-${client}.yaml`);
      writeFileSync(
        job,
        `version: 1
name: crash-${client}
connections:
  db: { client: ${client}, url: "${db.url}" }
checkpoint: { store: sql, connection: db }
${batch}
source:
  use: file
  with: { path: input-${RECORDS}.jsonl }
sinks:
  - use: sql
    with: { connection: db, table: loaded, mode: insert }
  # A slower second sink holds the checkpoint back while the sql sink has already committed:
  # the window in which a crash leaves committed batches beyond the checkpoint.
  - id: slow
    use: ./${slow}
`,
      );
      /** What a kill left: the last batch committed with the rows (the marker) and the last checkpoint. */
      const leftBehind = async () => {
        const marker = await rows(db.knex, 'select seq from sluice_sink_markers');
        const saved = await rows(db.knex, 'select body from sluice_checkpoints');
        const checkpoint = JSON.parse(String(saved[0]!.body)) as { seq: number; counters: { read: number } };
        return { marker: marker.length ? Number(marker[0]!.seq) : -1, checkpoint: checkpoint.seq, read: checkpoint.counters.read };
      };
      const random = seeded(client === 'pg' ? 3 : client === 'mysql2' ? 5 : 9);
      const kills: Array<{ marker: number; checkpoint: number }> = [];
      let resumedAt = 0;
      for (let run = 0; kills.filter((k) => k.marker > k.checkpoint).length < 3 && run < 8; run++) {
        const child = start(['run', job, '--progress', 'json']);
        const exited = finished(child, 120_000);
        // A random moment in the run's own progress: a checkpoint 3–10 batches further on.
        const reached = await followEvents(child).next(checkpointPast(resumedAt + step * (3 + Math.floor(random() * 8))));
        if (reached) child.kill('SIGKILL');
        const result = await exited;
        expect(result.signal, `run ${run} ended before its kill (${result.code}): ${result.stderr}`).toBe('SIGKILL');
        const left = await leftBehind();
        expect(left.marker, 'committed rows are never behind the checkpoint').toBeGreaterThanOrEqual(left.checkpoint);
        kills.push({ marker: left.marker, checkpoint: left.checkpoint });
        resumedAt = left.read;
      }
      console.log(`sql crash test (${client}, ${batch}): kills ${JSON.stringify(kills)}`);
      // Only kills that left committed batches beyond the checkpoint count: the ones a resume must not write again.
      expect(kills.filter((k) => k.marker > k.checkpoint).length, JSON.stringify(kills)).toBe(3);

      const last = await sluice(['run', job, '--progress', 'none'], { timeoutMs: 120_000 });
      expect(last.code, last.stderr).toBe(0);
      expect(await tableDigest(db)).toEqual(expected.get(RECORDS));

      const status = await sluice(['status', job, '--json']);
      const checkpoint = JSON.parse(status.stdout).checkpoint;
      expect(checkpoint.done).toBe(true);
      expect(checkpoint.counters).toMatchObject({ read: RECORDS, written: RECORDS, deadLettered: 0 });
    }, 300_000);
  });
});
