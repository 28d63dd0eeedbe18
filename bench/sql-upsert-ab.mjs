// A/B of the whole CSV → PostgreSQL upsert job (bench/sql.mjs's csvUpsert: 1M rows into the full
// table, default batch settings) between two builds, in interleaved pairs (the order alternates).
// Per run: wall, the sluice child's CPU (user+sys), and the CPU of the run's PostgreSQL backends
// (every backend on the benchmark's own database, read from /proc every 20 ms; a backend's last
// 20 ms before it exits may be missed). Every table is checked against the reference (\copy).
// Usage: node bench/sql-upsert-ab.mjs A_ROOT B_ROOT [ROWS] [PAIRS]   (a root: a checkout whose
// packages/cli/dist/bin.js is built). Writes bench/results/upsert-ab-ROWS.json and .md.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { dataFiles, median, pgBenchDatabase, RESULTS, ROOT, sluiceCommand, sluiceJob, timedChild } from './sql-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');
const [A, B] = [process.argv[2], process.argv[3]];
const ROWS = Number(process.argv[4] ?? 1_000_000);
const PAIRS = Number(process.argv[5] ?? 5);
const BASE = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const DB = 'sluice_bench_upsert_ab';

const ticks = (pid) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
};

async function main() {
  if (!A || !B) throw new Error('usage: node bench/sql-upsert-ab.mjs A_ROOT B_ROOT [ROWS] [PAIRS]');
  const { csv } = dataFiles(ROWS);
  const { url, knex, verify } = await pgBenchDatabase(knexFactory, BASE, DB, csv, ROWS);
  const job = sluiceJob('bench-pg-csv-upsert-ab', { connection: `{ client: pg, url: "${url}" }`, source: `{ path: ${csv} }`, sink: '{ connection: db, table: t_upsert, mode: upsert, key: id }' });
  const commitOf = (root) => execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD']).toString().trim();
  const builds = { A: { root: A, commit: commitOf(A) }, B: { root: B, commit: commitOf(B) } };

  const runOne = async (which) => {
    await knex.raw('drop table if exists t_upsert');
    await knex.raw('create table t_upsert (id bigint primary key, email text, name text, country text, amount numeric(12,2), created_at timestamptz)');
    await knex.raw(`insert into t_upsert select id, email, name || ' (old)', country, amount + 1, created_at from reference`);
    await knex.raw('vacuum analyze t_upsert');
    await knex.raw('checkpoint');
    const own = (await knex.raw('select pg_backend_pid() as p')).rows.map((r) => r.p);
    const seen = new Map(); // pid -> [first ticks, last ticks]
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const { rows } = await knex.raw('select pid from pg_stat_activity where datname = ? and pid <> all(?)', [DB, own]);
        for (const { pid } of rows) {
          const t = ticks(pid);
          if (t === undefined) continue;
          if (!seen.has(pid)) seen.set(pid, [t, t]);
          else seen.get(pid)[1] = t;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const load1 = loadavg()[0];
    const timing = await timedChild(...sluiceCommand(['run', job, '--fresh', '--progress', 'none'], { bin: join(builds[which].root, 'packages/cli/dist/bin.js') }), { cwd: ROOT });
    polling = false;
    await poll;
    // A backend first seen after it started loses its start; the sink's connections start at the run's first write.
    const pgCpu = [...seen.values()].reduce((s, [first, last]) => s + last - first, 0) / 100;
    const problem = await verify('t_upsert')();
    const r = { seconds: +timing.seconds.toFixed(2), cpu: +timing.cpuSeconds.toFixed(2), pgCpu: +pgCpu.toFixed(2), rssMB: timing.rssMB, load1: +load1.toFixed(2), ok: !problem, ...(problem ? { problem } : {}) };
    process.stderr.write(`${which}: ${JSON.stringify(r)}\n`);
    return r;
  };

  const pairs = [];
  for (let i = 0; i < PAIRS; i++) {
    const order = i % 2 ? ['B', 'A'] : ['A', 'B'];
    const pair = {};
    for (const w of order) pair[w] = await runOne(w);
    pairs.push(pair);
  }
  await knex.raw('drop table if exists t_upsert');
  await knex.destroy();
  const ratio = (k) => +median(pairs.map((p) => p.B[k] / p.A[k])).toFixed(3);
  const of = (w, k) => +median(pairs.map((p) => p[w][k])).toFixed(2);
  const out = { rows: ROWS, pairs: PAIRS, date: new Date().toISOString(), builds, verified: pairs.every((p) => p.A.ok && p.B.ok), ratios: { seconds: ratio('seconds'), cpu: ratio('cpu'), pgCpu: ratio('pgCpu') }, runs: pairs };
  const name = join(RESULTS, `upsert-ab-${ROWS}`);
  writeFileSync(`${name}.json`, `${JSON.stringify(out, null, 2)}\n`);
  const md = [
    `# CSV → PostgreSQL upsert into the full table, A/B: ${ROWS} rows, ${PAIRS} interleaved pairs (${out.date.slice(0, 16)} UTC)`,
    '',
    `\`node bench/sql-upsert-ab.mjs A B ${ROWS} ${PAIRS}\`; A = ${builds.A.commit} (${A}), B = ${builds.B.commit} (${B}). Every table verified: ${out.verified ? 'yes' : 'NO'}.`,
    'Medians; B/A is the median of the per-pair ratios. PG CPU: the run\'s backends on the benchmark database, sampled every 20 ms.',
    '',
    '| | wall s | sluice CPU s | PG CPU s |',
    '|---|--:|--:|--:|',
    `| A | ${of('A', 'seconds')} | ${of('A', 'cpu')} | ${of('A', 'pgCpu')} |`,
    `| B | ${of('B', 'seconds')} | ${of('B', 'cpu')} | ${of('B', 'pgCpu')} |`,
    `| B/A | ${out.ratios.seconds} | ${out.ratios.cpu} | ${out.ratios.pgCpu} |`,
    '',
    `Load (1 min) before each run: ${pairs.flatMap((p) => [`A ${p.A.load1}`, `B ${p.B.load1}`]).join(', ')}.`,
    '',
  ].join('\n');
  writeFileSync(`${name}.md`, md);
  process.stdout.write(md);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
