// Which node flags the `sluice` command starts node with (the shebang of packages/cli/dist/bin.js):
// peak RSS and CPU time of every issue-12 workload under each candidate flag set, in interleaved
// rounds (the order of the flag sets rotates each round), each run its own process started as
// `node FLAGS bin.js run JOB --fresh`. CPU = user + sys of the child (/usr/bin/time), the figure that
// means something on a shared machine; a ratio is the median over rounds of the ratio of two runs
// in the same round (same workload, same round, so the same load).
//
// With --callgrind, each run is counted in instructions instead (valgrind --tool=callgrind, all
// threads, GC helpers included): the same under any load, so CPU cost of a flag set can be told
// apart from the machine's noise (use fewer rows: ~50× slower). Peak RSS is then not measured.
//
// Usage: node bench/node-flags.mjs [--rows N] [--rounds R] [--only a,b] [--flags 'name=--x --y' …] [--callgrind] [--name NAME]
//   default 1,000,000 rows, 3 rounds, flag sets: none, and the shebang's. Writes bench/results/NAME.json/.md (default node-flags).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ensureRecords, SLUICE_STEPS } from './generate.mjs';
import { BIN, commit, DATA, dataFiles, machine, median, RESULTS, shebangFlags, sluiceJob, timedChild } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const ROWS = Number(option('--rows', 1_000_000));
const ROUNDS = Number(option('--rounds', 3));
const ONLY = option('--only', undefined)?.split(',');
const CALLGRIND = argv.includes('--callgrind');
const given = argv.flatMap((a, i) => (a === '--flags' ? [argv[i + 1]] : []));
const FLAG_SETS = given.length
  ? given.map((g) => ({ name: g.split('=')[0], flags: g.slice(g.indexOf('=') + 1).split(/\s+/).filter(Boolean) }))
  : [
      { name: 'none', flags: [] },
      { name: 'shebang', flags: shebangFlags(BIN) },
    ];

const PG = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_DB = PG.replace(/\/[^/]*$/, '/sluice_bench_flags');
const MY = { host: '127.0.0.1', port: '3306', user: 'root' };
const NAME = option('--name', 'node-flags');
const WORK = join(DATA, NAME); // its own folder and job names: two passes with other names can run at once
mkdirSync(WORK, { recursive: true });

const psql = (url, sql) => execFileSync('psql', [url, '-qc', sql], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PGOPTIONS: '--client-min-messages=warning' } });
const mariadb = (sql, db) => execFileSync('mariadb', [`--host=${MY.host}`, `--port=${MY.port}`, `--user=${MY.user}`, ...(db ? [db] : []), '-e', sql], { stdio: ['ignore', 'ignore', 'inherit'] });
const PG_DDL = (t) => `drop table if exists ${t}; create table ${t} (id bigint primary key, email text, name text, country text, amount numeric(12,2), created_at timestamptz)`;
const MY_DDL = (t) => `drop table if exists ${t}; create table ${t} (id bigint primary key, email varchar(100), name varchar(100), country char(2), amount decimal(12,2), created_at datetime(3))`;

const { csv, jsonl } = dataFiles(ROWS);
const records = ensureRecords(DATA, ROWS, (text) => process.stdout.write(text)).file;


const pg = `{ client: pg, url: "${PG_DB}" }`;
const sqliteFile = join(WORK, 'sqlite.db');
const WORKLOADS = [
  { id: 'pg-csv-insert', job: sluiceJob(`${NAME}-pg-csv-insert`, { connection: pg, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t_csv }' }), prepare: () => psql(PG_DB, PG_DDL('t_csv')) },
  { id: 'pg-jsonl-insert', job: sluiceJob(`${NAME}-pg-jsonl-insert`, { connection: pg, source: `{ path: ${jsonl} }`, sink: '{ connection: db, table: t_jsonl }' }), prepare: () => psql(PG_DB, PG_DDL('t_jsonl')) },
  {
    id: 'pg-csv-upsert',
    job: sluiceJob(`${NAME}-pg-csv-upsert`, { connection: pg, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t_upsert, mode: upsert, key: id }' }),
    prepare: () => {
      psql(PG_DB, `${PG_DDL('t_upsert')}; insert into t_upsert select id, email, name || ' (old)', country, amount + 1, created_at from reference`);
      psql(PG_DB, 'vacuum analyze t_upsert');
    },
  },
  {
    id: 'mariadb-csv-insert',
    job: sluiceJob(`${NAME}-mariadb-csv-insert`, { connection: `{ client: mysql2, url: "mysql://${MY.user}@${MY.host}:${MY.port}/sluice_bench_flags" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t_csv }' }),
    prepare: () => mariadb(MY_DDL('t_csv'), 'sluice_bench_flags'),
  },
  {
    id: 'sqlite-csv-upsert',
    job: sluiceJob(`${NAME}-sqlite-csv-upsert`, { connection: `{ client: better-sqlite3, url: "${sqliteFile}" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t, mode: upsert, key: id }' }),
    prepare: () => {
      rmSync(sqliteFile, { force: true });
      execFileSync('sqlite3', [sqliteFile, 'create table t (id integer primary key, email text, name text, country text, amount real, created_at text)']);
    },
  },
  { id: 'csv-to-jsonl', job: fileJob(`${NAME}-csv-to-jsonl`, `{ path: ${csv}, csv: { cast: true } }`, ''), prepare: () => {} },
  { id: 'jsonl-map-filter', job: fileJob(`${NAME}-jsonl-map-filter`, `{ path: ${records}, format: jsonl }`, SLUICE_STEPS), prepare: () => {} },
].filter((w) => !ONLY || ONLY.includes(w.id));

// The databases only for the workloads that use them (a file-only pass can run beside another).
if (WORKLOADS.some((w) => w.id.startsWith('pg-'))) {
  psql(PG, 'drop database if exists sluice_bench_flags with (force)');
  psql(PG, 'create database sluice_bench_flags');
  psql(PG_DB, PG_DDL('reference'));
  psql(PG_DB, `\\copy reference from '${csv}' with (format csv, header true)`);
}
if (WORKLOADS.some((w) => w.id.startsWith('mariadb-'))) mariadb('drop database if exists sluice_bench_flags; create database sluice_bench_flags');

function fileJob(name, source, steps) {
  const file = join(WORK, `${name}.yaml`);
  writeFileSync(file, `version: 1\nname: ${name}\nsource:\n  use: file\n  with: ${source}\n${steps}sink:\n  use: file\n  with: { path: ${name}.out.jsonl, format: jsonl }\n`);
  return file;
}

const loadNow = () => loadavg()[0].toFixed(2);

/** One run under callgrind: its instruction count in place of CPU seconds. */
function counted(cmd, args) {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', cmd, ...args], { cwd: WORK, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`valgrind ${cmd} ${args.join(' ')} exited ${r.status}\n${r.stderr.slice(-2000)}`);
  return { cpuSeconds: Number(/Collected : (\d+)/.exec(r.stderr)?.[1]), rssMB: undefined, seconds: undefined, out: r.stdout, err: r.stderr };
}

const runs = {}; // workload → flag set → [{ cpu, rss, seconds, round }]
for (const w of WORKLOADS) runs[w.id] = Object.fromEntries(FLAG_SETS.map((f) => [f.name, []]));
const loads = [];
for (let round = 0; round < ROUNDS; round++) {
  const before = loadNow();
  for (const w of WORKLOADS) {
    const order = FLAG_SETS.map((_, i) => FLAG_SETS[(i + round) % FLAG_SETS.length]);
    for (const f of order) {
      w.prepare();
      const node = [process.execPath, [...f.flags, BIN, 'run', w.job, '--fresh', '--progress', 'none']];
      const r = CALLGRIND ? counted(...node) : await timedChild(...node, { cwd: WORK });
      if (!/done in/.test(r.out + r.err)) throw new Error(`${w.id} under ${f.name}: no 'done' line\n${r.out}\n${r.err}`);
      runs[w.id][f.name].push({ cpu: r.cpuSeconds, rss: r.rssMB, seconds: r.seconds });
      console.log(`round ${round + 1} ${w.id} ${f.name}: ${CALLGRIND ? `${(r.cpuSeconds / 1e9).toFixed(3)} G instructions` : `cpu ${r.cpuSeconds.toFixed(2)} s, rss ${r.rssMB} MB, wall ${r.seconds.toFixed(2)} s`}`);
    }
  }
  loads.push(`${before}→${loadNow()}`);
}

const base = FLAG_SETS[0].name;
const table = [
  CALLGRIND
    ? `| workload | flag set | median instructions | instructions ÷ ${base} (median of paired ratios) |`
    : `| workload | flag set | median CPU | CPU ÷ ${base} (median of paired ratios) | peak RSS (median, max) |`,
  CALLGRIND ? '|---|---|--:|--:|' : '|---|---|--:|--:|--:|',
];
for (const w of WORKLOADS) {
  for (const f of FLAG_SETS) {
    const r = runs[w.id][f.name];
    const ratio = median(r.map((x, i) => x.cpu / runs[w.id][base][i].cpu));
    const flags = `${f.name}: \`${f.flags.join(' ') || '(none)'}\``;
    if (CALLGRIND) table.push(`| ${w.id} | ${flags} | ${(median(r.map((x) => x.cpu)) / 1e9).toFixed(3)} G | ${ratio.toFixed(3)} |`);
    else table.push(`| ${w.id} | ${flags} | ${median(r.map((x) => x.cpu)).toFixed(2)} s | ${ratio.toFixed(3)} | ${median(r.map((x) => x.rss))} MB, ${Math.max(...r.map((x) => x.rss))} MB |`);
  }
}
const markdown = [
  `## Node flags of the sluice command: ${ROWS.toLocaleString('en-US')} rows, ${ROUNDS} interleaved rounds${CALLGRIND ? ', instruction counts (callgrind)' : ''}`,
  '',
  `Commit ${commit()}, ${new Date().toISOString()}; 1-minute load before→after each round: ${loads.join(', ')}.`,
  '',
  ...table,
  '',
].join('\n');
console.log(markdown);
writeFileSync(join(RESULTS, `${NAME}.json`), `${JSON.stringify({ rows: ROWS, rounds: ROUNDS, flagSets: FLAG_SETS, machine: machine(), commit: commit(), loads, runs }, null, 2)}\n`);
writeFileSync(join(RESULTS, `${NAME}.md`), markdown);
