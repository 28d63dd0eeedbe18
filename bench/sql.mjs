// Loading CSV rows into PostgreSQL, side by side:
//   (a) psql \copy                             — the limit
//   (b) knex insert() of 1,000-row batches     — what teams hand-write
//   (c) sluice run, sql sink mode: insert      — COPY … FROM STDIN
//   (d) sluice run, sql sink mode: upsert      — into a table already holding the rows (COPY into a
//       temp table + INSERT … ON CONFLICT DO UPDATE), beside (e) a knex onConflict().merge() loop.
// Usage: node bench/sql.mjs [ROWS]   (default 1,000,000; needs PostgreSQL at SLUICE_BENCH_PG or
// postgres://postgres@127.0.0.1:5432/test, and psql on PATH). Prints a table and writes
// bench/.data/sql-results.json.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'packages/plugins/sql/package.json'));
const knexFactory = require('knex');

const ROWS = Number(process.argv[2] ?? 1_000_000);
const BASE = process.env.SLUICE_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const DB = 'sluice_bench_sql';
const url = BASE.replace(/\/[^/]*$/, `/${DB}`);
const DATA = join(ROOT, 'bench/.data');
const CSV = join(DATA, `sql-${ROWS}.csv`);
const JSONL = join(DATA, `sql-${ROWS}.jsonl`);
const BATCH = Number(process.env.SLUICE_BENCH_BATCH ?? 5000);
const IN_FLIGHT = Number(process.env.SLUICE_BENCH_INFLIGHT ?? 2);
const COLUMNS = ['id', 'name', 'email', 'amount', 'active', 'created_at', 'note'];
const DDL = (t) =>
  `create table ${t} (id bigint primary key, name text not null, email text, amount double precision, active boolean, created_at timestamptz, note text)`;

/** Deterministic CSV: ~85 bytes a row; no field needs quoting, so the knex loop can split on commas. */
function generate() {
  if (existsSync(CSV)) return;
  mkdirSync(DATA, { recursive: true });
  let a = 42;
  const rnd = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const fd = openSync(`${CSV}.tmp`, 'w');
  let chunk = `${COLUMNS.join(',')}\n`;
  const start = Date.UTC(2024, 0, 1);
  for (let id = 1; id <= ROWS; id++) {
    const ts = new Date(start + Math.floor(rnd() * 3e10)).toISOString();
    chunk += `${id},user ${id},user${id}@example.com,${(rnd() * 1000).toFixed(2)},${rnd() < 0.5},${ts},${'n'.repeat(Math.floor(rnd() * 20))}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  execFileSync('mv', [`${CSV}.tmp`, CSV]);
}

/** The same rows as JSON Lines, to show the sink's own speed apart from the CSV parser's. */
function generateJsonl() {
  if (existsSync(JSONL)) return;
  const fd = openSync(`${JSONL}.tmp`, 'w');
  let chunk = '';
  for (const row of csvRows()) {
    chunk += `${JSON.stringify(row)}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  execFileSync('mv', [`${JSONL}.tmp`, JSONL]);
}

function* csvRows() {
  const lines = readFileSync(CSV, 'utf8').split('\n');
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]) continue;
    const [id, name, email, amount, active, created_at, note] = lines[i].split(',');
    yield { id: Number(id), name, email, amount: Number(amount), active: active === 'true', created_at, note };
  }
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  const extra = await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, ...(extra ?? {}) };
}

/** Runs a command under /usr/bin/time for its peak RSS. */
function run(cmd, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%M', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${out}\n${err}`));
      const lines = err.trim().split('\n');
      resolvePromise({ rssMB: Math.round(Number(lines[lines.length - 1]) / 1024), out });
    });
  });
}

async function main() {
  generate();
  generateJsonl();
  const admin = knexFactory({ client: 'pg', connection: BASE, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${DB} with (force)`);
  await admin.raw(`create database ${DB}`);
  await admin.destroy();
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  for (const t of ['t_copy', 't_knex', 't_sluice']) await knex.raw(DDL(t));
  const count = async (t) => Number((await knex.raw(`select count(*) as n from ${t}`)).rows[0].n);
  const results = {};

  // (a) psql \copy
  results.copy = await timed(() => run('psql', [url, '-qc', `\\copy t_copy (${COLUMNS.join(', ')}) from '${CSV}' with (format csv, header true)`]));

  // (b) knex insert of 1,000-row batches
  results.knexInsert = await timed(async () => {
    let batch = [];
    for (const row of csvRows()) {
      batch.push(row);
      if (batch.length === 1000) {
        await knex('t_knex').insert(batch);
        batch = [];
      }
    }
    if (batch.length) await knex('t_knex').insert(batch);
  });

  // (c) sluice run, insert
  const dir = join(DATA, 'sql-jobs');
  mkdirSync(dir, { recursive: true });
  const job = (name, mode, input = 'csv') => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      `version: 1
name: ${name}
connections:
  pg: { client: pg, url: "${url}" }
batch: { size: ${BATCH}, inFlight: ${IN_FLIGHT} }
source:
  use: file
  # CSV fields stay text (cast: false): PostgreSQL parses them into the column types, as \\copy does.
  with: ${input === 'csv' ? `{ path: ${CSV}, csv: { cast: false } }` : `{ path: ${JSONL} }`}
sink:
  use: sql
  with: { connection: pg, table: t_sluice, mode: ${mode}${mode === 'upsert' ? ', key: id' : ''} }
`,
    );
    return file;
  };
  const bin = join(ROOT, 'packages/cli/dist/bin.js');
  const insertJob = job('bench-sql-insert', 'insert');
  results.sluiceInsert = await timed(() => run(process.execPath, [bin, 'run', insertJob, '--fresh', '--progress', 'none']));
  // (c′) the same from JSON Lines, into a fresh table: the sink without the CSV parser in front.
  await knex.raw('drop table t_sluice');
  await knex.raw(DDL('t_sluice'));
  const jsonlJob = job('bench-sql-insert-jsonl', 'insert', 'jsonl');
  results.sluiceInsertJsonl = await timed(() => run(process.execPath, [bin, 'run', jsonlJob, '--fresh', '--progress', 'none']));

  // (d) sluice run, upsert into the table that now holds every row
  const upsertJob = job('bench-sql-upsert', 'upsert');
  results.sluiceUpsert = await timed(() => run(process.execPath, [bin, 'run', upsertJob, '--fresh', '--progress', 'none']));
  // (d′) the same from JSON Lines.
  const upsertJsonlJob = job('bench-sql-upsert-jsonl', 'upsert', 'jsonl');
  results.sluiceUpsertJsonl = await timed(() => run(process.execPath, [bin, 'run', upsertJsonlJob, '--fresh', '--progress', 'none']));

  // (e) knex onConflict().merge() of 1,000-row batches, into the same full table
  results.knexMerge = await timed(async () => {
    let batch = [];
    const flush = () => knex('t_knex').insert(batch).onConflict('id').merge();
    for (const row of csvRows()) {
      batch.push(row);
      if (batch.length === 1000) {
        await flush();
        batch = [];
      }
    }
    if (batch.length) await flush();
  });

  for (const t of ['t_copy', 't_knex', 't_sluice']) {
    const n = await count(t);
    if (n !== ROWS) throw new Error(`${t} holds ${n} rows, expected ${ROWS}`);
  }
  await knex.destroy();

  const rate = (r) => Math.round(ROWS / r.seconds);
  const lines = [
    ['(a) psql \\copy', results.copy],
    ['(b) knex insert, 1,000-row batches', results.knexInsert],
    ['(c) sluice run, sql insert (COPY), CSV source', results.sluiceInsert],
    ["(c′) sluice run, sql insert (COPY), JSON Lines source", results.sluiceInsertJsonl],
    ['(d) sluice run, sql upsert (full table), CSV source', results.sluiceUpsert],
    ['(d′) sluice run, sql upsert (full table), JSON Lines source', results.sluiceUpsertJsonl],
    ['(e) knex onConflict().merge(), 1,000-row batches', results.knexMerge],
  ].map(([name, r]) => `| ${name} | ${r.seconds.toFixed(2)} s | ${rate(r).toLocaleString('en-US')} rows/s | ${r.rssMB ? `${r.rssMB} MB` : '—'} |`);
  const ratios = {
    insertVsCopy: results.copy.seconds / results.sluiceInsert.seconds,
    insertVsKnex: results.knexInsert.seconds / results.sluiceInsert.seconds,
    jsonlInsertVsCopy: results.copy.seconds / results.sluiceInsertJsonl.seconds,
    jsonlInsertVsKnex: results.knexInsert.seconds / results.sluiceInsertJsonl.seconds,
    upsertVsKnexMerge: results.knexMerge.seconds / results.sluiceUpsert.seconds,
    jsonlUpsertVsKnexMerge: results.knexMerge.seconds / results.sluiceUpsertJsonl.seconds,
  };
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${execFileSync('psql', ['--version']).toString().trim()}`;
  const text = [
    `${ROWS.toLocaleString('en-US')} CSV rows into PostgreSQL — ${machine}`,
    '',
    '| contender | time | rate | peak RSS |',
    '|---|---|---|---|',
    ...lines,
    '',
    `(c) vs (a): ${ratios.insertVsCopy.toFixed(2)}× of \\copy's speed (target ≥ 0.5×)`,
    `(c) vs (b): ${ratios.insertVsKnex.toFixed(2)}× the knex insert loop (target ≥ 3×)`,
    `(c′) vs (a): ${ratios.jsonlInsertVsCopy.toFixed(2)}× of \\copy's speed; vs (b): ${ratios.jsonlInsertVsKnex.toFixed(2)}× the knex insert loop`,
    `(d) vs (e): ${ratios.upsertVsKnexMerge.toFixed(2)}× the knex merge loop (target ≥ 2×); (d′) vs (e): ${ratios.jsonlUpsertVsKnexMerge.toFixed(2)}×`,
    `sluice batch: ${BATCH} records, ${IN_FLIGHT} in flight`,
  ].join('\n');
  process.stdout.write(`${text}\n`);
  writeFileSync(join(DATA, 'sql-results.json'), `${JSON.stringify({ rows: ROWS, machine, batch: BATCH, inFlight: IN_FLIGHT, results, ratios }, null, 2)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
