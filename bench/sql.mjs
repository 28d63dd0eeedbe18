// Loading 1M rows into PostgreSQL, side by side, interleaved over rounds, every output verified:
//   \copy                — psql's \copy of the CSV (the limit)
//   sluice CSV insert    — file (CSV) → sql sink, mode insert, fresh table
//   sluice JSONL insert  — file (JSON Lines, the same rows) → sql sink, mode insert, fresh table
//   knex merge loop      — insert().onConflict('id').merge() of 1,000-row batches into the full table
//   sluice CSV upsert    — file (CSV) → sql sink, mode upsert, into the full table
// "The full table" holds a stale copy of every row (other name and amount), so an upsert must
// rewrite every row and its result shows whether it did.
// Usage: node bench/sql.mjs [ROWS] [ROUNDS]   (default 1,000,000 rows, 3 rounds; PostgreSQL at
// SLUICE_BENCH_PG or postgres://postgres@127.0.0.1:5432/test; psql on PATH). Writes
// bench/results/sql-postgres.json and regenerates docs/benchmarks-sql.md.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { dataFiles, interleave, jsonlBatches, pgBenchDatabase, result, ROOT, runSluice, saveResults, sluiceJob, timedChild, timedHere } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const BASE = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

async function main() {
  const { csv, jsonl } = dataFiles(ROWS);
  const { url, knex, psqlCopy, fresh, verify } = await pgBenchDatabase(knexFactory, BASE, 'sluice_bench_sql', csv, ROWS);
  const stale = (table) => async () => {
    await fresh(table)();
    await knex.raw(`insert into ${table} select id, email, name || ' (old)', country, amount + 1, created_at from reference`);
    await knex.raw(`vacuum analyze ${table}`);
  };
  const connection = `{ client: pg, url: "${url}" }`;
  const csvSource = `{ path: ${csv} }`;
  const jobs = {
    csvInsert: sluiceJob('bench-pg-csv-insert', { connection, source: csvSource, sink: '{ connection: db, table: t_csv_insert }' }),
    jsonlInsert: sluiceJob('bench-pg-jsonl-insert', { connection, source: `{ path: ${jsonl} }`, sink: '{ connection: db, table: t_jsonl_insert }' }),
    csvUpsert: sluiceJob('bench-pg-csv-upsert', { connection, source: csvSource, sink: '{ connection: db, table: t_csv_upsert, mode: upsert, key: id }' }),
  };

  const contenders = [
    { id: 'copy', label: '`psql \\copy` (CSV)', prepare: fresh('t_copy'), run: () => timedChild(...psqlCopy('t_copy')), verify: verify('t_copy') },
    { id: 'csvInsert', sluice: true, label: 'sluice: CSV → sql `insert`', prepare: fresh('t_csv_insert'), run: () => runSluice(jobs.csvInsert), verify: verify('t_csv_insert') },
    { id: 'jsonlInsert', sluice: true, label: 'sluice: JSON Lines → sql `insert`', prepare: fresh('t_jsonl_insert'), run: () => runSluice(jobs.jsonlInsert), verify: verify('t_jsonl_insert') },
    {
      id: 'knexMerge',
      label: 'knex `insert().onConflict().merge()`, 1,000-row batches, full table',
      prepare: stale('t_knex_merge'),
      run: () =>
        timedHere(async () => {
          for (const batch of jsonlBatches(jsonl, 1000)) await knex('t_knex_merge').insert(batch).onConflict('id').merge();
        }),
      verify: verify('t_knex_merge'),
    },
    { id: 'csvUpsert', sluice: true, label: 'sluice: CSV → sql `upsert`, full table', prepare: stale('t_csv_upsert'), run: () => runSluice(jobs.csvUpsert), verify: verify('t_csv_upsert') },
  ];
  const rounds = await interleave(contenders, ROUNDS);
  await knex.destroy();

  const out = result({
    title: 'PostgreSQL',
    rows: ROWS,
    rounds,
    contenders,
    machineExtra: execFileSync('psql', [url, '-Atc', 'show server_version']).toString().trim().replace(/^/, 'PostgreSQL '),
    targets: [
      { label: 'CSV insert vs `\\copy`', sluice: 'csvInsert', peer: 'copy', min: 0.6 },
      { label: 'JSON Lines insert vs `\\copy`', sluice: 'jsonlInsert', peer: 'copy', min: 0.6 },
      { label: 'CSV upsert (full table) vs knex merge loop', sluice: 'csvUpsert', peer: 'knexMerge', min: 4 },
      { label: 'CSV upsert (full table) vs `\\copy`', sluice: 'csvUpsert', peer: 'copy', min: 0.4 },
    ],
  });
  saveResults('postgres', out);
  process.stdout.write(`${JSON.stringify(out.targets.map((t) => ({ target: t.label, median: t.ratio?.median })), null, 1)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
