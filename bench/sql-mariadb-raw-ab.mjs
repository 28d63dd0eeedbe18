// CPU of sluice's CSV → MariaDB insert (bench/sql-mariadb.mjs's job: 1M rows, fresh table) with raw
// pages off (SLUICE_RAW_PAGES=0: records, the tab-separated LOAD DATA of the record path) and on
// (the CSV bytes into LOAD DATA … SET created_at = <UTC rewrite>), same build, in alternating
// pairs: each run's user+sys (wait4 via /usr/bin/time), wall, and the MariaDB server's CPU over the
// run (utime+stime of the mariadbd process: includes whatever else the server did meanwhile). Every
// table is checked against the other run's (row count and an ordered md5 of every value).
// Usage: node bench/sql-mariadb-raw-ab.mjs [PAIRS] [ROWS]   (default 5 pairs, 1,000,000 rows).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { dataFiles, ROOT, runSluice, sluiceJob } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');
const PAIRS = Number(process.argv[2] ?? 5);
const ROWS = Number(process.argv[3] ?? 1_000_000);
const DB = 'sluice_bench_raw_ab';
const DDL = 'create table t (id bigint primary key, email varchar(100), name varchar(100), country char(2), amount decimal(12,2), created_at datetime(3))';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** CPU seconds the MariaDB server has used (all its threads), or NaN when its process is not readable. */
function serverCpu() {
  try {
    const pid = execFileSync('pgrep', ['-o', 'mariadbd'], { encoding: 'utf8' }).trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function main() {
  const { csv } = dataFiles(ROWS);
  const admin = knexFactory({ client: 'mysql2', connection: { host: '127.0.0.1', user: 'root' }, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${DB}`);
  await admin.raw(`create database ${DB} character set utf8mb4`);
  await admin.destroy();
  const knex = knexFactory({ client: 'mysql2', connection: { host: '127.0.0.1', user: 'root', database: DB }, pool: { min: 1, max: 1 } });
  await knex.raw('set session group_concat_max_len = 1073741824');
  const job = sluiceJob('bench-mariadb-raw-ab', { connection: `{ client: mysql2, url: "mysql://root@127.0.0.1:3306/${DB}" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t }' });
  const fingerprint = async () => {
    const [rows] = await knex.raw(
      "select count(*) as n, md5(group_concat(md5(concat_ws('|', id, ifnull(email, '-'), ifnull(name, '-'), ifnull(country, '-'), ifnull(amount, '-'), ifnull(created_at, '-'))) order by id separator '')) as h from t",
    );
    return `${rows[0].n}:${rows[0].h}`;
  };
  const run = async (name) => {
    await knex.raw('drop table if exists t');
    await knex.raw(DDL);
    const s0 = serverCpu();
    const r = await runSluice(job, { env: { SLUICE_RAW_PAGES: name === 'records' ? '0' : '1' } });
    const server = Math.round((serverCpu() - s0) * 100) / 100;
    return { wall: Number(r.seconds.toFixed(2)), cpu: Number(r.cpuSeconds.toFixed(2)), rssMB: r.rssMB, serverCpu: server, fingerprint: await fingerprint() };
  };
  const runs = { records: [], raw: [] };
  const ratios = { cpu: [], wall: [] };
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 ? ['raw', 'records'] : ['records', 'raw'];
    const pair = {};
    for (const name of order) {
      pair[name] = await run(name);
      const { fingerprint: _, ...shown } = pair[name];
      process.stdout.write(`pair ${i + 1} ${name}: ${JSON.stringify(shown)} load ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
    }
    if (pair.records.fingerprint !== pair.raw.fingerprint) throw new Error(`the tables differ: records ${pair.records.fingerprint}, raw ${pair.raw.fingerprint}`);
    if (!pair.raw.fingerprint.startsWith(`${ROWS}:`)) throw new Error(`the table holds ${pair.raw.fingerprint}, not ${ROWS} rows`);
    runs.records.push(pair.records);
    runs.raw.push(pair.raw);
    ratios.cpu.push(pair.raw.cpu / pair.records.cpu);
    ratios.wall.push(pair.raw.wall / pair.records.wall);
  }
  await knex.raw(`drop database ${DB}`);
  await knex.destroy();
  for (const key of ['cpu', 'wall', 'serverCpu', 'rssMB']) process.stdout.write(`median ${key}: records ${median(runs.records.map((r) => r[key]))}, raw ${median(runs.raw.map((r) => r[key]))}\n`);
  process.stdout.write(`raw/records per pair: cpu ${ratios.cpu.map((r) => r.toFixed(3)).join(' ')} (median ${median(ratios.cpu).toFixed(3)}); wall ${ratios.wall.map((r) => r.toFixed(3)).join(' ')} (median ${median(ratios.wall).toFixed(3)})\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
