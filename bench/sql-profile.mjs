// CPU profile of one SQL benchmark workload (`node --cpu-prof`), to see where the time goes:
//   node bench/sql-profile.mjs WORKLOAD [ROWS] [--top N]
// WORKLOAD: pg-csv-insert, pg-jsonl-insert, pg-csv-upsert, mariadb-csv-insert, sqlite-csv-upsert.
// Uses the data and databases of bench/sql*.mjs (fresh table each time; upsert into a table holding a
// stale copy of every row, for PostgreSQL); SLUICE_BENCH_BIN selects another build. Prints the
// summary, the samples by part of the program (each sample to the innermost frame of a known part:
// a builtin such as JSON.parse counts for the code that called it) and the .cpuprofile path
// (bench/.data/prof-WORKLOAD/).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { formatSummary, summarise } from './cpuprofile-summary.mjs';
import { COLUMNS, DATA, dataFiles, ROOT, runSluice, sluiceJob } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');
const argv = process.argv.slice(2);
const workload = argv[0];
const rows = Number(argv[1] && !argv[1].startsWith('--') ? argv[1] : 1_000_000);
const top = Number(argv.includes('--top') ? argv[argv.indexOf('--top') + 1] : 25);
const { csv, jsonl } = dataFiles(rows);
const PG = 'postgres://postgres@127.0.0.1:5432/sluice_bench_prof';
const MY = 'mysql://root@127.0.0.1:3306/sluice_bench_prof';

async function prepare() {
  if (workload.startsWith('pg-')) {
    const admin = knexFactory({ client: 'pg', connection: PG.replace(/[^/]+$/, 'test'), pool: { min: 0, max: 1 } });
    await admin.raw('drop database if exists sluice_bench_prof with (force)');
    await admin.raw('create database sluice_bench_prof');
    await admin.destroy();
    const knex = knexFactory({ client: 'pg', connection: PG, pool: { min: 0, max: 1 } });
    await knex.raw('create table t (id bigint primary key, email text, name text, country text, amount numeric(12,2), created_at timestamptz)');
    if (workload === 'pg-csv-upsert') {
      execFileSync('psql', [PG, '-qc', `\\copy t (${COLUMNS.join(', ')}) from '${csv}' with (format csv, header true)`]);
      await knex.raw("update t set name = name || ' (old)'");
      await knex.raw('vacuum full analyze t');
    }
    await knex.destroy();
    const sink = workload === 'pg-csv-upsert' ? '{ connection: db, table: t, mode: upsert, key: id }' : '{ connection: db, table: t }';
    return sluiceJob(`prof-${workload}`, { connection: `{ client: pg, url: "${PG}" }`, source: `{ path: ${workload === 'pg-jsonl-insert' ? jsonl : csv} }`, sink });
  }
  if (workload === 'mariadb-csv-insert') {
    const admin = knexFactory({ client: 'mysql2', connection: MY.replace(/[^/]+$/, 'test'), pool: { min: 0, max: 1 } });
    await admin.raw('drop database if exists sluice_bench_prof');
    await admin.raw('create database sluice_bench_prof character set utf8mb4');
    await admin.raw('create table sluice_bench_prof.t (id bigint primary key, email varchar(100), name varchar(100), country char(2), amount decimal(12,2), created_at datetime(3))');
    await admin.destroy();
    return sluiceJob(`prof-${workload}`, { connection: `{ client: mysql2, url: "${MY}" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t }' });
  }
  if (workload === 'sqlite-csv-upsert') {
    const file = join(DATA, 'sqlite', 'prof.db');
    mkdirSync(join(DATA, 'sqlite'), { recursive: true });
    for (const s of ['', '-wal', '-shm']) rmSync(`${file}${s}`, { force: true });
    execFileSync('sqlite3', [file, 'create table t (id integer primary key, email text, name text, country text, amount real, created_at text)']);
    return sluiceJob(`prof-${workload}`, { connection: `{ client: better-sqlite3, url: "${file}" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t, mode: upsert, key: id }' });
  }
  throw new Error(`unknown workload ${workload}`);
}

/** Parts of the program, matched against a frame's url, innermost frame first. */
const PARTS = [
  ['file source: JSON Lines reader (with JSON.parse)', /plugins\/file\/dist\/(lines|json-values|numbers)\.js/],
  ['file source: CSV reader', /plugins\/file\/dist\/csv-/],
  ['file source: the rest', /plugins\/file\/dist\//],
  ['sql sink: COPY encoding', /plugins\/sql\/dist\/copy-text\.js/],
  ['sql sink: the rest', /plugins\/sql\/dist\//],
  ['pg, pg-copy-streams (socket writes)', /node_modules\/(\.pnpm\/)?.*\/(pg|pg-copy-streams|pg-protocol)\//],
  ['core: engine', /core\/dist\/engine\//],
  ['core: the rest', /core\/dist\//],
  ['cli', /cli\/dist\//],
  ['node: module loading', /node:internal\/modules\//],
];

/** Sampled ms by part: a sample goes to the innermost frame that a part matches (else "other"). */
function byPart(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ms = new Map();
  profile.samples.forEach((id, i) => {
    const dt = Math.max(0, profile.timeDeltas[i + 1] ?? 0) / 1000;
    const leaf = byId.get(id).callFrame.functionName;
    let part = ['(idle)', '(garbage collector)', '(program)'].includes(leaf) ? leaf : undefined;
    for (let n = byId.get(id); part === undefined && n; n = byId.get(parent.get(n.id))) part = PARTS.find(([, re]) => re.test(n.callFrame.url))?.[0];
    part ??= 'other';
    ms.set(part, (ms.get(part) ?? 0) + dt);
  });
  const busy = [...ms].filter(([k]) => k !== '(idle)').reduce((a, [, v]) => a + v, 0);
  return [...ms]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `  ${v.toFixed(0).padStart(7)} ms ${k === '(idle)' ? '      ' : `${((100 * v) / busy).toFixed(1).padStart(5)}%`}  ${k}`)
    .join('\n');
}

const job = await prepare();
const dir = join(DATA, `prof-${workload}`);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
process.env.SLUICE_BENCH_PROFILE = dir;
const run = await runSluice(job);
const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')));
process.stdout.write(`${workload}, ${rows} rows: ${run.seconds.toFixed(2)} s, cpu ${run.cpuSeconds.toFixed(2)} s, load ${(await import('node:os')).loadavg()[0].toFixed(1)}, peak RSS ${run.rssMB} MB\n${run.out}\n`);
const profile = JSON.parse(readFileSync(file, 'utf8'));
process.stdout.write(`${formatSummary(summarise(profile, top))}\nby part (% of the samples that were not idle):\n${byPart(profile)}\n\nprofile: ${file}\n`);
