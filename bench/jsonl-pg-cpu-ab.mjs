// CPU time of the JSON Lines → PostgreSQL insert (bench/sql.mjs's jsonlInsert workload) in two builds,
// A and B, run in interleaved pairs: for a per-record change measured on a shared, loaded machine,
// where wall time means little.
//   node bench/jsonl-pg-cpu-ab.mjs --a DIR --b DIR [--rows N] [--pairs N] [--out FILE]
// Each DIR is a built checkout (default B: this one). Each run is a child process timed by
// /usr/bin/time (user + sys CPU seconds, peak RSS) loading a fresh table; pairs alternate which build
// goes first. Every table must hold the same rows as the `\copy` reference (count and hash) before a
// figure is printed. Prints (and with --out writes) the medians and the median of the per-pair ratios
// A CPU / B CPU (above 1: B is cheaper), with the load average beside every run.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { dataFiles, median, pgBenchDatabase, ROOT, sluiceCommand, sluiceJob, timedChild } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const ROWS = Number(option('--rows', 1_000_000));
const PAIRS = Math.max(1, Number(option('--pairs', 5)));
const OUT = option('--out', undefined);
const BASE = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const builds = { A: resolve(option('--a', ROOT)), B: resolve(option('--b', ROOT)) };

const { csv, jsonl } = dataFiles(ROWS);
const { url, knex, fresh, verify } = await pgBenchDatabase(knexFactory, BASE, 'sluice_bench_jsonl_ab', csv, ROWS);
const job = sluiceJob('bench-jsonl-pg-ab', { connection: `{ client: pg, url: "${url}" }`, source: `{ path: ${jsonl} }`, sink: '{ connection: db, table: t_ab }' });

const lines = [];
const say = (line) => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};

async function once(id) {
  await fresh('t_ab')();
  const load = loadavg()[0];
  const bin = join(builds[id], 'packages/cli/dist/bin.js');
  const run = await timedChild(...sluiceCommand(['run', job, '--fresh', '--progress', 'none'], { bin }), { cwd: ROOT });
  const problem = await verify('t_ab')();
  if (problem) throw new Error(`${id} loaded a wrong table: ${problem}; no figures`);
  return { cpu: run.cpuSeconds, seconds: run.seconds, rssMB: run.rssMB, load };
}

const runs = { A: [], B: [] };
say(`JSON Lines → PostgreSQL insert, ${ROWS} rows, ${PAIRS} interleaved pairs; A ${builds.A}, B ${builds.B}`);
for (let pair = 1; pair <= PAIRS; pair++) {
  for (const id of pair % 2 ? ['A', 'B'] : ['B', 'A']) {
    const r = await once(id);
    runs[id].push(r);
    say(`pair ${pair} ${id}: ${r.cpu.toFixed(2)} s CPU, ${r.seconds.toFixed(2)} s wall, ${r.rssMB} MB, load ${r.load.toFixed(1)}, table verified`);
  }
}
await knex.destroy();
const ratios = runs.A.map((a, i) => a.cpu / runs.B[i].cpu);
for (const id of ['A', 'B']) {
  const rs = runs[id];
  say(`${id}: median CPU ${median(rs.map((r) => r.cpu)).toFixed(2)} s, median wall ${median(rs.map((r) => r.seconds)).toFixed(2)} s, median peak RSS ${median(rs.map((r) => r.rssMB))} MB`);
}
say(`median of per-pair CPU ratios A/B: ${median(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(', ')}); load at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
if (OUT) writeFileSync(OUT, `${lines.join('\n')}\n`);
