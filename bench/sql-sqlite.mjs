// Upserting 1M CSV rows into SQLite, side by side, interleaved over rounds, every output verified:
//   sqlite3 .import — Debian's sqlite3 shell importing the CSV into the table (the limit)
//   sluice upsert   — file (CSV) → sql sink, mode upsert by id, into a fresh table
// Each contender gets a fresh database file with the same table (id integer primary key).
// Usage: node bench/sql-sqlite.mjs [ROWS] [ROUNDS]   (default 1,000,000 rows, 3 rounds; sqlite3 on
// PATH: apt-get install -y sqlite3). Writes bench/results/sql-sqlite.json and regenerates
// docs/benchmarks-sql.md.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DATA, dataFiles, interleave, referenceCheck, result, ROOT, runSluice, saveResults, sluiceJob, timedChild } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const Database = require('better-sqlite3');

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const DIR = join(DATA, 'sqlite');
const DDL = 'create table t (id integer primary key, email text, name text, country text, amount real, created_at text)';

function freshFile(name) {
  const file = join(DIR, `${name}.db`);
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
  const db = new Database(file);
  db.exec(DDL);
  db.close();
  return file;
}

/** Count and an ordered hash of every row, each value with its SQLite type (quote()). */
function fingerprint(file) {
  const db = new Database(file, { readonly: true });
  const hash = createHash('md5');
  let n = 0;
  for (const row of db.prepare("select quote(id) || '|' || quote(email) || '|' || quote(name) || '|' || quote(country) || '|' || quote(amount) || '|' || quote(created_at) as r from t order by id").pluck().iterate()) {
    hash.update(row);
    hash.update('\n');
    n++;
  }
  db.close();
  return { n, h: hash.digest('hex') };
}

async function main() {
  const { csv } = dataFiles(ROWS);
  mkdirSync(DIR, { recursive: true });
  const importer = (file) => ['sqlite3', [file, '.import --csv --skip 1 ' + csv + ' t']];
  const reference = freshFile('reference');
  execFileSync(...importer(reference));
  const verify = await referenceCheck((name) => fingerprint(join(DIR, `${name}.db`)), 'reference', ROWS);
  const job = sluiceJob('bench-sqlite-csv-upsert', {
    connection: `{ client: better-sqlite3, url: "${join(DIR, 'sluice.db')}" }`,
    source: `{ path: ${csv} }`,
    sink: '{ connection: db, table: t, mode: upsert, key: id }',
  });
  const contenders = [
    { id: 'import', label: '`sqlite3 .import --csv`', prepare: async () => freshFile('import'), run: () => timedChild(...importer(join(DIR, 'import.db'))), verify: verify('import') },
    { id: 'csvUpsert', sluice: true, label: 'sluice: CSV → sql `upsert`', prepare: async () => freshFile('sluice'), run: () => runSluice(job), verify: verify('sluice') },
  ];
  const rounds = await interleave(contenders, ROUNDS);
  const out = result({
    title: 'SQLite',
    rows: ROWS,
    rounds,
    contenders,
    machineExtra: `sqlite3 ${execFileSync('sqlite3', ['--version']).toString().split(' ')[0]}`,
    targets: [{ label: 'CSV upsert vs `sqlite3 .import`', sluice: 'csvUpsert', peer: 'import', min: 0.5 }],
  });
  saveResults('sqlite', out);
  process.stdout.write(`${JSON.stringify(out.targets.map((t) => ({ target: t.label, median: t.ratio?.median })))}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
