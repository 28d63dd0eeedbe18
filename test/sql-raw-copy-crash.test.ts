// Exactly-once with raw CSV pages (COPY … FORMAT csv, no records made): SIGKILL a CSV → PostgreSQL
// run while two batches are open in the database (one copying, the one before it committing),
// resume, and the table — no unique key, so a duplicate would stay — holds every row exactly once,
// checked as the whole row multiset. A row the database refuses sends its batch down the record
// path (materialised, refused row dead-lettered) in the middle of the raw ones.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availability, createDatabase, requireUp, rows, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, killAtMoment, seeded, sluice, start, tempDir } from './support/cli.js';

const RECORDS = 40_000;
/** Longer than varchar(40): refused by the database, a dead letter. */
const REFUSED = 23_456;
const services = await availability();
const { up, skip } = services.pg;

const rowLine = (r: { id: number; name: string; amount: number }) => `${r.id}\t${r.name}\t${r.amount}\n`;

let dir: string;
let expected: { count: number; sha256: string };

beforeAll(() => {
  dir = tempDir('sluice-raw-crash-');
  const random = seeded(31);
  const hash = createHash('sha256');
  const lines = ['id,name,amount'];
  let count = 0;
  for (let id = 0; id < RECORDS; id++) {
    // Now and then a quoted name with a delimiter and doubled quotes (still a raw page).
    const name = id === REFUSED ? 'x'.repeat(50) : id % 997 === 0 ? `user "${id}", quoted` : `user-${id}`;
    const amount = Math.floor(random() * 1000);
    lines.push(`${id},${name.includes('"') ? `"${name.replaceAll('"', '""')}"` : name},${amount}`);
    if (id === REFUSED) continue;
    hash.update(rowLine({ id, name, amount }));
    count++;
  }
  writeFileSync(join(dir, 'input.csv'), `${lines.join('\n')}\n`);
  expected = { count, sha256: hash.digest('hex') };
});

async function tableDigest(db: TestDatabase): Promise<{ count: number; sha256: string }> {
  const all = await rows(db.knex, 'select id, name, amount from loaded order by id, name, amount');
  const hash = createHash('sha256');
  for (const r of all) hash.update(rowLine({ id: Number(r.id), name: String(r.name), amount: Number(r.amount) }));
  return { count: all.length, sha256: hash.digest('hex') };
}

/** Two batches of the run open in the database at once: sessions whose transaction has written rows. */
async function twoBatchesOpen(db: TestDatabase): Promise<boolean> {
  const [r] = await rows(db.knex, 'select count(*) as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_xid is not null');
  return Number(r!.n) >= 2;
}

const variants = [
  { label: 'batches of 400', batch: 'batch: { size: 400, inFlight: 4 }' },
  { label: 'growing batches (no batch.size)', batch: 'batch: { inFlight: 4 }' },
];

describe.skipIf(skip)('raw CSV pages into PostgreSQL, SIGKILLed with two batches open', () => {
  let db: TestDatabase;
  afterEach(async () => {
    requireUp('pg', up);
    const done = db;
    db = undefined!;
    await done?.drop();
  });

  it.each(variants)('$label: resumes after each kill to exactly the input rows (row multiset hash), checkpoint.store: sql', async ({ label, batch }) => {
    db = await createDatabase('pg');
    await db.knex.raw('create table loaded (id integer not null, name varchar(40), amount integer)');
    // Time after every COPY's rows are in, before its commit, widens the moment where one batch is
    // open while the next copies: growing batches make few batches a run, and a faster COPY (or a
    // busier machine) must not leave the test without three such moments. After, not before, the
    // insert: the transaction has written rows (it holds an xid, which twoBatchesOpen looks for).
    await db.knex.raw(`create function slow() returns trigger language plpgsql as $$ begin perform pg_sleep(0.05); return null; end $$`);
    await db.knex.raw('create trigger slow after insert on loaded for each statement execute function slow()');
    const job = join(dir, `job-${label.length}.yaml`);
    writeFileSync(
      job,
      `version: 1\nname: raw-crash-${label.length}\nconnections:\n  db: { client: pg, url: "${db.url}" }\n` +
        `checkpoint: { store: sql, connection: db }\n${batch}\n` +
        'source: { use: file, with: { path: input.csv } }\n' +
        'sink: { use: sql, with: { connection: db, table: loaded }, onError: deadLetter }\n' +
        `deadLetter: { use: file, with: { path: dead-${label.length}.jsonl } }\n`,
    );
    const random = seeded(label.length);
    let kills = 0;
    let completed = false;
    let fresh = false;
    let sawRaw = false;
    for (let runs = 0; kills < 3 && runs < 30; runs++) {
      if (completed) {
        await db.knex.raw('delete from loaded');
        completed = false;
        fresh = true;
      }
      const child = start(['run', job, '--progress', 'json', ...(fresh ? ['--fresh'] : [])]);
      fresh = false;
      const exited = finished(child, 120_000);
      if (await killAtMoment(child, () => twoBatchesOpen(db), { skip: Math.floor(random() * 3), pollMs: 2 })) kills++;
      const result = await exited;
      sawRaw ||= /as they are \(COPY FORMAT csv/.test(result.stdout);
      if (result.signal !== 'SIGKILL') {
        expect(result.code, result.stderr).toBe(0);
        expect(await tableDigest(db)).toEqual(expected);
        completed = true;
      }
    }
    expect(kills, 'no moment with two batches open in the database was seen').toBeGreaterThanOrEqual(3);
    expect(sawRaw, 'the rows went in as raw pages').toBe(true);
    if (!completed) {
      const last = await sluice(['run', job, '--progress', 'none'], { timeoutMs: 120_000 });
      expect(last.code, last.stderr).toBe(0);
    }
    expect(await tableDigest(db)).toEqual(expected);
    const status = await sluice(['status', job, '--json']);
    expect(JSON.parse(status.stdout).checkpoint).toMatchObject({ done: true, counters: { read: RECORDS, written: RECORDS - 1, deadLettered: 1 } });
  }, 300_000);
});
