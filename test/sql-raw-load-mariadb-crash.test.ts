// Exactly-once with raw CSV pages into MariaDB (LOAD DATA LOCAL INFILE, no records made): SIGKILL a
// CSV → MariaDB run while a batch is open in the database with rows loaded (two at once, one loading
// while the one before it commits, is a window of a commit's length here: seen now and then, not
// waited for), resume, and the table — no unique key, so a duplicate would stay — holds every row
// exactly once, checked as the whole row multiset (date-times included: they go through the
// statement's UTC rewrite). A row the database refuses sends its batch down the record path
// (materialised, refused row dead-lettered) in the middle of the raw ones.
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
const { up, skip } = services.mysql2;

const rowLine = (r: { id: number; name: string; amount: number; at: string }) => `${r.id}\t${r.name}\t${r.amount}\t${r.at}\n`;

let dir: string;
let expected: { count: number; sha256: string };

beforeAll(() => {
  dir = tempDir('sluice-raw-load-crash-');
  const random = seeded(31);
  const hash = createHash('sha256');
  const lines = ['id,name,amount,at'];
  let count = 0;
  for (let id = 0; id < RECORDS; id++) {
    // Now and then a quoted name with a delimiter and doubled quotes (still a raw page).
    const name = id === REFUSED ? 'x'.repeat(50) : id % 997 === 0 ? `user "${id}", quoted` : `user-${id}`;
    const amount = Math.floor(random() * 1000);
    const at = new Date(Date.UTC(2023, 0, 1) + Math.floor(random() * 3e10)).toISOString();
    lines.push(`${id},${name.includes('"') ? `"${name.replaceAll('"', '""')}"` : name},${amount},${at}`);
    if (id === REFUSED) continue;
    hash.update(rowLine({ id, name, amount, at: at.replace('T', ' ').replace('Z', '') }));
    count++;
  }
  writeFileSync(join(dir, 'input.csv'), `${lines.join('\n')}\n`);
  expected = { count, sha256: hash.digest('hex') };
});

async function tableDigest(db: TestDatabase): Promise<{ count: number; sha256: string }> {
  const all = await rows(db.knex, 'select id, name, amount, cast(at as char) as at from loaded order by id, name, amount, at');
  const hash = createHash('sha256');
  for (const r of all) hash.update(rowLine({ id: Number(r.id), name: String(r.name), amount: Number(r.amount), at: String(r.at) }));
  return { count: all.length, sha256: hash.digest('hex') };
}

/**
 * Sessions on this database inside the slow trigger: a batch's LOAD DATA with rows loaded and not
 * committed (the trigger runs after a row is inserted). Read from the process list, not from
 * information_schema.innodb_trx: InnoDB refreshes that table's cache only after 0.1 s without a read,
 * so polling it every few milliseconds sees the first reading for ever (no batch open, on a quiet
 * machine).
 */
async function openBatches(db: TestDatabase): Promise<number> {
  const [r] = await rows(db.knex, "select count(*) as n from information_schema.processlist where db = database() and id <> connection_id() and state = 'User sleep'");
  return Number(r!.n);
}

const variants = [
  { label: 'batches of 400', batch: 'batch: { size: 400, inFlight: 4 }' },
  { label: 'growing batches (no batch.size)', batch: 'batch: { inFlight: 4 }' },
];

describe.skipIf(skip)('raw CSV pages into MariaDB, SIGKILLed with a batch open', () => {
  let db: TestDatabase;
  afterEach(async () => {
    requireUp('mysql2', up);
    const done = db;
    db = undefined!;
    await done?.drop();
  });

  it.each(variants)('$label: resumes after each kill to exactly the input rows (row multiset hash), checkpoint.store: sql', async ({ label, batch }) => {
    db = await createDatabase('mysql2');
    await db.knex.raw('create table loaded (id integer not null, name varchar(40), amount integer, at datetime(3))');
    // Time near the end of every 2,000 rows keeps batches open longer: growing batches make few
    // batches a run, and a faster load must not leave the test without three moments to kill at.
    // A row trigger: MariaDB has no statement ones.
    await db.knex.raw('create trigger slow after insert on loaded for each row begin if new.id % 2000 = 1990 then do sleep(0.05); end if; end');
    const job = join(dir, `job-${label.length}.yaml`);
    writeFileSync(
      job,
      `version: 1\nname: raw-load-crash-${label.length}\nconnections:\n  db: { client: mysql2, url: "${db.url}" }\n` +
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
      if (await killAtMoment(child, async () => (await openBatches(db)) >= 1, { skip: Math.floor(random() * 3), pollMs: 2 })) kills++;
      const result = await exited;
      sawRaw ||= /as they are \(LOAD DATA LOCAL INFILE/.test(result.stdout);
      if (result.signal !== 'SIGKILL') {
        expect(result.code, result.stderr).toBe(0);
        expect(await tableDigest(db)).toEqual(expected);
        completed = true;
      }
    }
    expect(kills, 'no moment with a batch open in the database was seen').toBeGreaterThanOrEqual(3);
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
