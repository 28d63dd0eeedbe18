// The statements behind the sql sink's PostgreSQL upsert, measured on their own (issue 12): the
// file's rows COPY'd page by page into a staging table, then merged into a full table (a stale
// copy of every row, as in bench/sql.mjs), one transaction per batch, as the sink's raw path does.
// Contenders differ in the merge statement, the staging table or the batch size; every result
// table is checked against the reference (\copy of the file). Reported per run: wall, CPU of the
// PostgreSQL backend (utime+stime from /proc: the database's cost, which the wall of the real
// bench is made of), CPU of the checkpointer/walwriter/bgwriter, and the server's WAL bytes. Rounds are
// interleaved (order rotates), each run starts after a CHECKPOINT on a freshly vacuumed table.
// Usage: node bench/sql-upsert-merge.mjs [ROWS] [ROUNDS] [SET]   SET: statements | floors | stage | batch
// (PostgreSQL at SLUICE_BENCH_PG or postgres://postgres@127.0.0.1:5432/test, on this machine).
// Writes bench/results/upsert-merge-SET-ROWS.json and .md.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { COLUMNS, dataFiles, median, pgBenchDatabase, RESULTS, ROOT } from './sql-lib.mjs';
import { cols, MERGES, STAGES } from './sql-upsert-lib.mjs';

const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');
const pg = require('pg');
const copyFrom = require('pg-copy-streams').from;

const ROWS = Number(process.argv[2] ?? 1_000_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const SET = process.argv[4] ?? 'statements';
const BASE = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const TICK = 100; // CLK_TCK: /proc/PID/stat counts CPU in 1/100 s

const SETS = {
  statements: ['onConflict', 'updateInsert', 'merge'].map((merge) => ({ id: merge, merge, stage: 'tempOnCommitDelete', batch: 5000 })),
  floors: ['onConflict', 'merge', 'updateOnly', 'copyOnly'].map((merge) => ({ id: merge, merge, stage: 'tempOnCommitDelete', batch: 5000, floor: merge === 'copyOnly' || merge === 'updateOnly' })),
  stage: Object.keys(STAGES).map((stage) => ({ id: stage, merge: 'merge', stage, batch: 5000 })),
  batch: [1000, 5000, 20000, 50000].flatMap((batch) => ['onConflict', 'merge'].map((merge) => ({ id: `${merge}-${batch}`, merge, stage: 'tempOnCommitDelete', batch }))),
};

/** The CSV's data lines cut into pages of `size` rows (bytes, as the raw path hands them to COPY). */
function pages(csv, size) {
  const text = readFileSync(csv);
  const out = [];
  let start = text.indexOf(10) + 1;
  while (start < text.length) {
    let end = start;
    for (let n = 0; n < size && end < text.length; n++) end = text.indexOf(10, end) + 1 || text.length;
    out.push(text.subarray(start, end));
    start = end;
  }
  return out;
}

/** utime+stime (seconds) of the processes `pids`. */
function cpuOf(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICK;
}

async function main() {
  const { csv } = dataFiles(ROWS);
  const { url, knex, verify } = await pgBenchDatabase(knexFactory, BASE, 'sluice_bench_upsert', csv, ROWS);
  const { rows: aux } = await knex.raw(`select pid from pg_stat_activity where backend_type in ('checkpointer', 'walwriter', 'background writer')`);
  const auxPids = aux.map((r) => r.pid);
  const contenders = SETS[SET];
  if (!contenders) throw new Error(`SET must be one of ${Object.keys(SETS).join(', ')}`);
  const pagesBySize = new Map();
  for (const c of contenders) if (!pagesBySize.has(c.batch)) pagesBySize.set(c.batch, pages(csv, c.batch));

  const runOne = async (c, round) => {
    const t = `t_${c.id.replace(/-/g, '_').toLowerCase()}`;
    await knex.raw(`drop table if exists ${t}`);
    await knex.raw(`create table ${t} (id bigint primary key, email text, name text, country text, amount numeric(12,2), created_at timestamptz)`);
    await knex.raw(`insert into ${t} select id, email, name || ' (old)', country, amount + 1, created_at from reference`);
    await knex.raw(`vacuum analyze ${t}`);
    await knex.raw('checkpoint');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const stage = STAGES[c.stage];
    const s = `stage_${c.id.replace(/-/g, '_').toLowerCase()}`;
    await client.query(`drop table if exists ${s}`);
    for (const q of stage.make(s, t)) await client.query(q);
    await client.query(`alter table ${s} add column sluice_row bigint generated always as identity`);
    for (const q of stage.afterMake?.(s) ?? []) await client.query(q);
    const copySql = `copy ${s} (${cols}) from stdin with (format csv, force_not_null (${cols}))`;
    const merge = MERGES[c.merge](t, s);
    const pid = (await client.query('select pg_backend_pid() as pid')).rows[0].pid;
    const wal0 = (await knex.raw('select pg_current_wal_lsn() as l')).rows[0].l;
    const load1 = loadavg()[0];
    const cpu0 = cpuOf([pid]);
    const aux0 = cpuOf(auxPids);
    const t0 = process.hrtime.bigint();
    for (const page of pagesBySize.get(c.batch)) {
      await client.query('begin');
      await pipeline(Readable.from([page]), client.query(copyFrom(copySql)));
      for (const q of stage.afterCopy?.(s) ?? []) await client.query(q);
      for (const q of merge) await client.query(q);
      for (const q of stage.empty(s)) await client.query(q);
      await client.query('commit');
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const pgCpu = cpuOf([pid]) - cpu0;
    const auxCpu = cpuOf(auxPids) - aux0;
    const walMB = Number((await knex.raw(`select pg_wal_lsn_diff(pg_current_wal_lsn(), ?) as d`, [wal0])).rows[0].d) / 2 ** 20;
    await client.end();
    const problem = c.floor ? undefined : await verify(t)();
    await knex.raw(`drop table ${t}`);
    const r = { seconds: +seconds.toFixed(2), pgCpu: +pgCpu.toFixed(2), auxCpu: +auxCpu.toFixed(2), walMB: Math.round(walMB), load1: +load1.toFixed(2), ok: !problem, ...(c.floor ? { checked: false } : {}), ...(problem ? { problem } : {}) };
    process.stderr.write(`round ${round + 1} ${c.id}: ${JSON.stringify(r)}\n`);
    return r;
  };

  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const results = {};
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length];
      results[c.id] = await runOne(c, r);
    }
    rounds.push(results);
  }
  await knex.destroy();

  const base = contenders[0].id;
  const summary = contenders.map((c) => {
    const of = (k) => +median(rounds.map((x) => x[c.id][k])).toFixed(2);
    const ratio = (k) => median(rounds.map((x) => x[c.id][k] / x[base][k]));
    return { id: c.id, merge: c.merge, stage: c.stage, batch: c.batch, ...(c.floor ? { floor: true } : {}), ok: rounds.every((x) => x[c.id].ok), seconds: of('seconds'), pgCpu: of('pgCpu'), auxCpu: of('auxCpu'), walMB: of('walMB'), secondsVsFirst: +ratio('seconds').toFixed(3), pgCpuVsFirst: +ratio('pgCpu').toFixed(3) };
  });
  const { rows: version } = await (async () => {
    const k = knexFactory({ client: 'pg', connection: BASE });
    try {
      return await k.raw('show server_version');
    } finally {
      await k.destroy();
    }
  })();
  const out = { set: SET, rows: ROWS, rounds: ROUNDS, date: new Date().toISOString(), postgres: version[0].server_version, baseline: base, summary, runs: rounds };
  const name = join(RESULTS, `upsert-merge-${SET}-${ROWS}`);
  writeFileSync(`${name}.json`, `${JSON.stringify(out, null, 2)}\n`);
  const md = [
    `# Upsert merge statements: set \`${SET}\`, ${ROWS} rows, ${ROUNDS} interleaved rounds (${out.date.slice(0, 16)} UTC, PostgreSQL ${out.postgres})`,
    '',
    `\`node bench/sql-upsert-merge.mjs ${ROWS} ${ROUNDS} ${SET}\`. Medians; ratios are medians of per-round ratios to \`${base}\` (same round).`,
    'pgCpu: the backend\'s utime+stime; auxCpu: checkpointer + walwriter + bgwriter; WAL: the server\'s over the run, every session\'s (other work on the server included). Load (1 min) per run is in the .json.',
    '',
    '| contender | merge | stage | batch | verified | wall s | × wall | PG CPU s | × PG CPU | aux CPU s | WAL MB |',
    '|---|---|---|--:|---|--:|--:|--:|--:|--:|--:|',
    ...summary.map((x) => `| ${x.id} | ${x.merge} | ${x.stage} | ${x.batch} | ${x.floor ? 'floor, not checked' : x.ok ? 'yes' : 'NO'} | ${x.seconds} | ${x.secondsVsFirst} | ${x.pgCpu} | ${x.pgCpuVsFirst} | ${x.auxCpu} | ${x.walMB} |`),
    '',
    `Load (1 min) at the runs: ${rounds.flatMap((x) => Object.values(x).map((y) => y.load1)).join(', ')}.`,
    '',
  ].join('\n');
  writeFileSync(`${name}.md`, md);
  process.stdout.write(md);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
