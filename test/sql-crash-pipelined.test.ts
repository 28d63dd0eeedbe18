// Exactly-once with a pipelined sql sink: SIGKILL while two batches are open in the database at
// once (one streaming its rows, the one before it committing), resume, and the table — without a
// unique key, so a duplicate would stay — holds every record exactly once, checked as the whole
// row multiset. The checkpoint is kept in the same database (checkpoint.store: sql).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, killAtMoment, seeded, sluice, start, tempDir } from './support/cli.js';

const RECORDS = 40_000;
const services = await availability();

const rowLine = (r: { id: number; name: string; amount: number }) => `${r.id}\t${r.name}\t${r.amount}\n`;

let dir: string;
let expected: { count: number; sha256: string };

beforeAll(() => {
  dir = tempDir('sluice-sql-pipelined-');
  const random = seeded(29);
  const hash = createHash('sha256');
  const lines: string[] = [];
  for (let id = 0; id < RECORDS; id++) {
    const r = { id, name: `user-${id}`, amount: Math.floor(random() * 1000) };
    lines.push(JSON.stringify(r));
    hash.update(rowLine(r));
  }
  writeFileSync(join(dir, 'input.jsonl'), `${lines.join('\n')}\n`);
  expected = { count: RECORDS, sha256: hash.digest('hex') };
});

async function tableDigest(db: TestDatabase): Promise<{ count: number; sha256: string }> {
  const all = await rows(db.knex, 'select id, name, amount from loaded order by id, name, amount');
  const hash = createHash('sha256');
  for (const r of all) hash.update(rowLine({ id: Number(r.id), name: String(r.name), amount: Number(r.amount) }));
  return { count: all.length, sha256: hash.digest('hex') };
}

/**
 * Whether two batches of the run are open in the database at once. PostgreSQL: sessions whose
 * transaction has written rows. MariaDB (whose innodb_trx is a cache refreshed every 100 ms):
 * one session streaming a batch (LOAD DATA) while another runs the sink's COMMIT.
 */
async function twoBatchesOpen(db: TestDatabase): Promise<boolean> {
  if (db.client === 'pg') {
    const [r] = await rows(db.knex, 'select count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_xid is not null');
    return Number(r!.n) >= 2;
  }
  const [r] = await rows(
    db.knex,
    `select sum(info like 'load data%') as loading, sum(cast(info as binary) like 'commit%') as committing
       from information_schema.processlist where db = database() and id <> connection_id()`,
  );
  return Number(r!.loading) >= 1 && Number(r!.committing) >= 1;
}

describe.each(['pg', 'mysql2'] as Client[])('pipelined sql sink on %s, SIGKILLed with two batches open', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    it('resumes after each kill to exactly the input rows (row multiset hash), with checkpoint.store: sql', async () => {
      db = await createDatabase(client);
      await db.knex.raw('create table loaded (id integer not null, name varchar(40), amount integer)');
      if (client === 'pg') {
        // A little time in every COPY widens the moment where one batch commits while the next streams.
        await db.knex.raw(`create function slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.01); return null; end $$`);
        await db.knex.raw('create trigger slow before insert on loaded for each statement execute function slow()');
      }
      const job = join(dir, `job-${client}.yaml`);
      writeFileSync(
        job,
        `version: 1\nname: pipelined-${client}\nconnections:\n  db: { client: ${client}, url: "${db.url}" }\n` +
          'checkpoint: { store: sql, connection: db }\nbatch: { size: 400, inFlight: 4 }\n' +
          'source: { use: file, with: { path: input.jsonl } }\nsink: { use: sql, with: { connection: db, table: loaded } }\n',
      );
      const random = seeded(client === 'pg' ? 7 : 13);
      let kills = 0;
      let completed = false;
      let fresh = false;
      for (let runs = 0; kills < 3 && runs < 30; runs++) {
        if (completed) {
          // A quick machine can finish a whole run between two looks (MariaDB's COMMIT is brief):
          // what the kills so far left was checked above; empty the table and start over.
          await db.knex.raw('delete from loaded');
          completed = false;
          fresh = true;
        }
        const child = start(['run', job, '--progress', 'none', ...(fresh ? ['--fresh'] : [])]);
        fresh = false;
        const exited = finished(child, 120_000);
        // Skip a random number of moments with two open batches, then kill at the next one.
        // (MariaDB's moments are rarer — its COMMIT is quick — so it is killed at the first.)
        if (await killAtMoment(child, () => twoBatchesOpen(db), { skip: client === 'pg' ? Math.floor(random() * 5) : 0, pollMs: client === 'pg' ? 2 : 0 })) kills++;
        const result = await exited;
        if (result.signal !== 'SIGKILL') {
          expect(result.code, result.stderr).toBe(0);
          expect(await tableDigest(db)).toEqual(expected);
          completed = true;
        }
      }
      expect(kills, 'no moment with two batches open in the database was seen: is the sink pipelined?').toBeGreaterThanOrEqual(3);
      if (!completed) {
        const last = await sluice(['run', job, '--progress', 'none'], { timeoutMs: 120_000 });
        expect(last.code, last.stderr).toBe(0);
      }
      expect(await tableDigest(db)).toEqual(expected);
      const status = await sluice(['status', job, '--json']);
      expect(JSON.parse(status.stdout).checkpoint).toMatchObject({ done: true, counters: { read: RECORDS, written: RECORDS, deadLettered: 0 } });
    }, 300_000);
  });
});
