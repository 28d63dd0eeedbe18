// Raw CSV pages (issue 12): CSV → PostgreSQL `insert` with raw pages (the default: the file's bytes
// go through COPY … FORMAT csv, no records made) against the same job with SLUICE_RAW_PAGES=0 (the
// record path), and `psql \copy` as the peer, interleaved over rounds, every table verified against
// the one \copy made. Reports the sluice child's CPU time (user+sys; what a shared machine does not
// distort much) per round and as medians, and the wall-clock ratio to \copy with the load.
// Usage: node bench/sql-raw.mjs [ROWS] [ROUNDS]   (default 1,000,000 rows, 5 rounds; PostgreSQL at
// SLUICE_BENCH_PG or postgres://postgres@127.0.0.1:5432/test; psql on PATH). Writes nothing but
// its own scratch database; prints its figures.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { dataFiles, interleave, median, pgBenchDatabase, ROOT, runSluice, sluiceJob, timedChild } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const BASE = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

async function main() {
  const { csv } = dataFiles(ROWS);
  const { url, knex, psqlCopy, fresh, verify } = await pgBenchDatabase(knexFactory, BASE, 'sluice_bench_sql_raw', csv, ROWS);
  const connection = `{ client: pg, url: "${url}" }`;
  const job = (name, table) => sluiceJob(name, { connection, source: `{ path: ${csv} }`, sink: `{ connection: db, table: ${table} }` });
  const run = (file, raw) => () => runSluice(file, { env: { SLUICE_RAW_PAGES: raw ? '1' : '0' } });
  const rawJob = job('bench-pg-csv-raw', 't_raw');
  const recordsJob = job('bench-pg-csv-records', 't_records');
  const contenders = [
    { id: 'copy', label: 'psql \\copy', prepare: fresh('t_copy'), run: () => timedChild(...psqlCopy('t_copy')), verify: verify('t_copy') },
    { id: 'raw', label: 'sluice CSV insert, raw pages', prepare: fresh('t_raw'), run: run(rawJob, true), verify: verify('t_raw') },
    { id: 'records', label: 'sluice CSV insert, SLUICE_RAW_PAGES=0', prepare: fresh('t_records'), run: run(recordsJob, false), verify: verify('t_records') },
  ];
  const rounds = await interleave(contenders, ROUNDS);
  await knex.destroy();
  const ok = (id) => rounds.map((r) => r.results[id]).filter((x) => x?.ok);
  console.log(`\n${ROWS.toLocaleString('en')} rows, ${ROUNDS} interleaved rounds (load before each round: ${rounds.map((r) => r.load.before.split(' ')[0]).join(', ')})`);
  for (const c of contenders) {
    const got = ok(c.id);
    const cpu = got.map((x) => x.cpuSeconds).filter((x) => x !== undefined);
    console.log(`${c.label.padEnd(40)} wall median ${median(got.map((x) => x.seconds)).toFixed(2)} s, cpu (user+sys) median ${cpu.length ? median(cpu).toFixed(2) : '-'} s [${cpu.join(', ')}], peak RSS median ${median(got.map((x) => x.rssMB ?? 0))} MB`);
  }
  const paired = (a, b, key) => median(rounds.filter((r) => r.results[a]?.ok && r.results[b]?.ok).map((r) => r.results[a][key] / r.results[b][key]));
  console.log(`CPU raw / records (paired median): ${paired('raw', 'records', 'cpuSeconds').toFixed(3)}`);
  console.log(`wall \\copy / raw (× \\copy, paired median): ${paired('copy', 'raw', 'seconds').toFixed(3)}; \\copy / records: ${paired('copy', 'records', 'seconds').toFixed(3)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
