// Exactly-once into a database: SIGKILL a file → sql job at random moments, resume, and the table
// ends with every record exactly once — with the checkpoint kept in the same database.
import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';

const RECORDS = 200_000;
const services = await availability();

let dir: string;
let expectedSum = 0;

beforeAll(async () => {
  dir = tempDir('sluice-sql-crash-');
  const random = seeded(11);
  const out = createWriteStream(join(dir, 'input.jsonl'));
  for (let id = 0; id < RECORDS; id++) {
    const amount = Math.floor(random() * 1000);
    expectedSum += amount;
    const line = `${JSON.stringify({ id, name: `user-${id}`, amount, note: 'x'.repeat(Math.floor(random() * 40)) })}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  writeFileSync(
    join(dir, 'slow.mjs'),
    `export default { kind: 'sink', apiVersion: 1, name: 'slow', description: 'waits 40ms per batch', schema: { type: 'object' },
  create() { return { write: () => new Promise((resolve) => setTimeout(resolve, 40)) }; } };\n`,
  );
}, 60_000);

const cases: Array<{ client: Client; mode: 'insert' | 'upsert'; ddl: string }> = [
  // No unique constraint: only the marker stands between a resume and duplicate rows.
  { client: 'pg', mode: 'insert', ddl: 'create table loaded (id integer not null, name text, amount integer, note text)' },
  { client: 'mysql2', mode: 'upsert', ddl: 'create table loaded (id integer primary key, name text, amount integer, note text)' },
];

describe.each(cases)('crash safety of file → sql ($client, $mode) with checkpoint.store: sql', ({ client, mode, ddl }) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    it('SIGKILL at random moments (at least 3), resumed each time: every record is in the table exactly once', async () => {
      db = await createDatabase(client);
      await db.knex.raw(ddl);
      const job = join(dir, `job-${client}.yaml`);
      writeFileSync(
        job,
        `version: 1
name: crash-${client}
connections:
  db: { client: ${client}, url: "${db.url}" }
checkpoint: { store: sql, connection: db }
batch: { size: 1000, inFlight: 4 }
source:
  use: file
  with: { path: input.jsonl }
sinks:
  - use: sql
    with: { connection: db, table: loaded, mode: ${mode}${mode === 'upsert' ? ', key: id' : ''} }
  # A slower second sink holds the checkpoint back while the sql sink has already committed:
  # the window in which a crash leaves committed batches beyond the checkpoint.
  - id: slow
    use: ./slow.mjs
`,
      );
      const random = seeded(client === 'pg' ? 3 : 5);
      /** Seq of the last batch committed with the rows, and of the last checkpoint. */
      const progress = async () => {
        const marker = await rows(db.knex, 'select seq from sluice_sink_markers').catch(() => []);
        const saved = await rows(db.knex, 'select body from sluice_checkpoints').catch(() => []);
        return {
          marker: marker.length ? Number(marker[0]!.seq) : -1,
          checkpoint: saved.length ? (JSON.parse(String(saved[0]!.body)) as { seq: number }).seq : -1,
        };
      };
      let kills = 0;
      let killsAhead = 0;
      let runs = 0;
      let completed = false;
      while (kills < 5 && runs < 20) {
        runs++;
        const child = start(['run', job, '--progress', 'none']);
        const exited = finished(child, 120_000);
        // Let this run commit something first (startup takes a moment), then kill at a random time.
        const before = (await progress()).marker;
        for (let i = 0; i < 300 && child.exitCode === null && (await progress()).marker <= before; i++) await sleep(20);
        await sleep(Math.floor(random() * 800));
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          kills++;
        }
        const result = await exited;
        if (result.signal !== 'SIGKILL') {
          expect(result.code, result.stderr).toBe(0);
          completed = true;
          break;
        }
        const p = await progress();
        if (p.marker > p.checkpoint) killsAhead++;
      }
      expect(kills).toBeGreaterThanOrEqual(3);
      // At least one crash left committed batches beyond the checkpoint (or the test proves little).
      expect(killsAhead).toBeGreaterThanOrEqual(1);
      if (!completed) {
        const last = await sluice(['run', job, '--progress', 'none'], { timeoutMs: 120_000 });
        expect(last.code, last.stderr).toBe(0);
      }
      const [stats] = await rows(db.knex, 'select count(*) as n, count(distinct id) as ids, sum(amount) as total from loaded');
      expect(Number(stats!.n)).toBe(RECORDS);
      expect(Number(stats!.ids)).toBe(RECORDS);
      expect(Number(stats!.total)).toBe(expectedSum);

      const status = await sluice(['status', job, '--json']);
      const checkpoint = JSON.parse(status.stdout).checkpoint;
      expect(checkpoint.done).toBe(true);
      expect(checkpoint.counters).toMatchObject({ read: RECORDS, written: RECORDS, deadLettered: 0 });
    }, 300_000);
  });
});
