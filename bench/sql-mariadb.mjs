// Loading 1M CSV rows into MariaDB, side by side, interleaved over rounds, every output verified:
//   LOAD DATA LOCAL INFILE — the `mariadb` client loading the CSV (the limit)
//   sluice CSV insert      — file (CSV) → sql sink, mode insert, fresh table
// Usage: node bench/sql-mariadb.mjs [ROWS] [ROUNDS]   (default 1,000,000 rows, 3 rounds; MariaDB at
// SLUICE_BENCH_MYSQL or mysql://root@127.0.0.1:3306; the `mariadb` client on PATH). Writes
// bench/results/sql-mariadb.json and regenerates docs/benchmarks-sql.md.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { COLUMNS, dataFiles, interleave, referenceCheck, result, ROOT, runSluice, saveResults, sluiceJob, timedChild } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const BASE = new URL(process.env.SLUICE_BENCH_MYSQL ?? 'mysql://root@127.0.0.1:3306/test');
const DB = 'sluice_bench_sql';
const url = `mysql://${BASE.username}${BASE.password ? `:${BASE.password}` : ''}@${BASE.host}/${DB}`;
const DDL = (t) =>
  `create table ${t} (id bigint primary key, email varchar(100), name varchar(100), country char(2), amount decimal(12,2), created_at datetime(3))`;

async function main() {
  const { csv } = dataFiles(ROWS);
  const connection = { host: BASE.hostname, port: Number(BASE.port || 3306), user: decodeURIComponent(BASE.username), password: decodeURIComponent(BASE.password) };
  const admin = knexFactory({ client: 'mysql2', connection, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${DB}`);
  await admin.raw(`create database ${DB} character set utf8mb4`);
  await admin.destroy();
  const knex = knexFactory({ client: 'mysql2', connection: { ...connection, database: DB }, pool: { min: 1, max: 1 } });
  await knex.raw('set session group_concat_max_len = 1073741824');
  const client = (table) => [
    'mariadb',
    [
      `--host=${connection.host}`,
      `--port=${connection.port}`,
      `--user=${connection.user}`,
      ...(connection.password ? [`--password=${connection.password}`] : []),
      '--local-infile=1',
      DB,
      '-e',
      `load data local infile '${csv}' into table ${table} character set utf8mb4 fields terminated by ',' optionally enclosed by '"' lines terminated by '\\n' ignore 1 lines (${COLUMNS.join(', ')})`,
    ],
  ];

  await knex.raw(DDL('reference'));
  execFileSync(...client('reference'));
  const fingerprint = async (table) => {
    const [rows] = await knex.raw(
      `select count(*) as n, md5(group_concat(md5(concat_ws('|', id, ifnull(email, '\\\\N'), ifnull(name, '\\\\N'), ifnull(country, '\\\\N'), ifnull(amount, '\\\\N'), ifnull(created_at, '\\\\N'))) order by id separator '')) as h from ${table}`,
    );
    return { n: Number(rows[0].n), h: rows[0].h };
  };
  const verify = await referenceCheck(fingerprint, 'reference', ROWS);
  const fresh = (table) => async () => {
    await knex.raw(`drop table if exists ${table}`);
    await knex.raw(DDL(table));
  };
  const job = sluiceJob('bench-mariadb-csv-insert', { connection: `{ client: mysql2, url: "${url}" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t_csv_insert }' });
  const contenders = [
    { id: 'loadData', label: '`mariadb` client `LOAD DATA LOCAL INFILE` (CSV)', prepare: fresh('t_load'), run: () => timedChild(...client('t_load')), verify: verify('t_load') },
    { id: 'csvInsert', sluice: true, label: 'sluice: CSV → sql `insert`', prepare: fresh('t_csv_insert'), run: () => runSluice(job), verify: verify('t_csv_insert') },
  ];
  const rounds = await interleave(contenders, ROUNDS);
  const [[version]] = await knex.raw('select version() as v');
  await knex.destroy();
  const out = result({
    title: 'MariaDB',
    rows: ROWS,
    rounds,
    contenders,
    machineExtra: `MariaDB ${version.v}`,
    targets: [{ label: 'CSV insert vs `LOAD DATA LOCAL INFILE`', sluice: 'csvInsert', peer: 'loadData', min: 0.5 }],
  });
  saveResults('mariadb', out);
  process.stdout.write(`${JSON.stringify(out.targets.map((t) => ({ target: t.label, median: t.ratio?.median })))}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
