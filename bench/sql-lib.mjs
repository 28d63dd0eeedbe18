// Shared parts of the SQL benchmarks (bench/sql.mjs, bench/sql-mariadb.mjs, bench/sql-sqlite.mjs):
// the data, timed child processes with their peak RSS, interleaved rounds, paired ratios, and the
// results files. A figure is printed only for a contender whose output was verified (row count and
// an ordered hash of every row against the reference table the database's own loader made).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DATA = join(ROOT, 'bench/.data');
export const RESULTS = join(ROOT, 'bench/results');
/** The CLI under test; SLUICE_BENCH_BIN points at another build (e.g. a checkout of an older commit). */
export const BIN = process.env.SLUICE_BENCH_BIN ?? join(ROOT, 'packages/cli/dist/bin.js');

/**
 * The node flags a bin's shebang line gives node (`#!/usr/bin/env -S node --max-semi-space-size=…`):
 * what the installed `sluice` command starts node with. [] for a plain `#!/usr/bin/env node`.
 */
export function shebangFlags(bin) {
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0];
  const m = /^#!\s*\S*env\s+(?:-S\s+)?node((?:\s+--?\S+)*)\s*$/.exec(first);
  return m ? m[1].trim().split(/\s+/).filter(Boolean) : [];
}

/**
 * How a benchmark starts sluice: as users do, the bin executed directly, so node gets the flags of
 * its shebang (peak RSS depends on them; see docs/benchmarks.md). tsc does not mark the built bin
 * executable (npm and pnpm do on install), so it is made so here. With node flags of its own (a
 * profile: `--cpu-prof`), node is started explicitly with the shebang's flags and then those.
 * Returns `[command, args]`.
 */
export function sluiceCommand(args, { bin = BIN, nodeFlags = [] } = {}) {
  if (nodeFlags.length) return [process.execPath, [...shebangFlags(bin), ...nodeFlags, bin, ...args]];
  if ((statSync(bin).mode & 0o111) === 0) chmodSync(bin, 0o755);
  return [bin, args];
}

/** The columns of every SQL benchmark: the file of issue 12 (1M rows × 6 columns). */
export const COLUMNS = ['id', 'email', 'name', 'country', 'amount', 'created_at'];

const FIRST = ['Ana', 'Bruno', 'Chen', 'Dara', 'Emeka', 'Fatima', 'Goran', 'Hana', 'Ivan', 'Jonas', 'Kofi', 'Lena'];
const LAST = ['Walker', 'Silva', 'Okafor', 'Novak', 'Tanaka', 'Moreau', 'Haddad', "O'Neil", 'Kowalski', 'Romero'];
const COUNTRIES = ['PT', 'NO', 'NG', 'JP', 'US', 'SN', 'EC', 'EE', 'AU', 'IT', 'GB', 'DE'];

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The data files for `rows` rows: CSV (header, RFC 4180; one name in 50 is "Last, First" and so
 * quoted) and the same rows as JSON Lines. Deterministic; made once, kept in bench/.data.
 */
export function dataFiles(rows) {
  const csv = join(DATA, `sqlbench-${rows}.csv`);
  const jsonl = join(DATA, `sqlbench-${rows}.jsonl`);
  if (existsSync(csv) && existsSync(jsonl)) return { csv, jsonl };
  mkdirSync(DATA, { recursive: true });
  const next = rng(1207);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const c = openSync(`${csv}.tmp`, 'w');
  const j = openSync(`${jsonl}.tmp`, 'w');
  let a = `${COLUMNS.join(',')}\n`;
  let b = '';
  const base = Date.UTC(2023, 0, 1);
  for (let id = 1; id <= rows; id++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const name = next() < 0.02 ? `${last}, ${first}` : `${first} ${last}`;
    const email = `${first}.${last}${id}@example.com`.toLowerCase().replace("'", '');
    const country = pick(COUNTRIES);
    const amount = (Math.floor(next() * 1_000_000) / 100).toFixed(2);
    const created = new Date(base + Math.floor(next() * 3e10)).toISOString();
    a += `${id},${email},${name.includes(',') ? `"${name}"` : name},${country},${amount},${created}\n`;
    b += `{"id":${id},"email":"${email}","name":"${name}","country":"${country}","amount":${amount},"created_at":"${created}"}\n`;
    if (a.length > 1 << 20) {
      writeSync(c, a);
      writeSync(j, b);
      a = b = '';
    }
  }
  writeSync(c, a);
  writeSync(j, b);
  closeSync(c);
  closeSync(j);
  renameSync(`${csv}.tmp`, csv);
  renameSync(`${jsonl}.tmp`, jsonl);
  return { csv, jsonl };
}

/** The rows of the JSON Lines file, `size` at a time (for the hand-written knex loops). */
export function* jsonlBatches(file, size) {
  let batch = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    batch.push(JSON.parse(line));
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Runs a command under /usr/bin/time: `{ seconds, rssMB, cpuSeconds }` (cpu = user + sys); rejects on a non-zero exit. */
export function timedChild(cmd, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${out.slice(-2000)}\n${err.slice(-2000)}`));
      const lines = err.trim().split('\n');
      const [rss, user, sys] = lines[lines.length - 1].split(' ').map(Number);
      resolvePromise({ seconds, rssMB: Math.round(rss / 1024), cpuSeconds: user + sys, out, err });
    });
  });
}

/** Times an in-process function (a hand-written loop): `{ seconds, rssMB: undefined }`. */
export async function timedHere(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** A sluice job file for a benchmark: default settings (batch, checkpoint file) unless `extra` says otherwise. */
export function sluiceJob(name, { connection, source, sink, extra = '' }) {
  const dir = join(DATA, 'sql-jobs');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `version: 1
name: ${name}
connections:
  db: ${connection}
${extra}source:
  use: file
  with: ${source}
sink:
  use: sql
  with: ${sink}
`,
  );
  return file;
}

/** `sluice run JOB --fresh --progress none` under /usr/bin/time, `env` added to this process's; `SLUICE_BENCH_PROFILE=DIR` adds --cpu-prof. */
export function runSluice(job, { env } = {}) {
  const prof = process.env.SLUICE_BENCH_PROFILE;
  return timedChild(...sluiceCommand(['run', job, '--fresh', '--progress', 'none'], { nodeFlags: prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [] }), {
    cwd: ROOT,
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
}

/**
 * The check every SQL benchmark puts each contender's table to: `fingerprint(reference)` (a
 * `{ n, h }` of row count and hash, sync or async) must hold `rows` rows, and `verify(table)` gives
 * a contender's `verify`: undefined when its table fingerprints the same, else what differs.
 */
export async function referenceCheck(fingerprint, reference, rows) {
  const expected = await fingerprint(reference);
  if (expected.n !== rows) throw new Error(`the reference table holds ${expected.n} rows, expected ${rows}`);
  return (table) => async () => {
    const got = await fingerprint(table);
    if (got.n !== expected.n) return `${got.n} rows, expected ${expected.n}`;
    if (got.h !== expected.h) return `rows differ from the reference (hash ${got.h}, expected ${expected.h})`;
    return undefined;
  };
}

/** The PostgreSQL benchmarks' table: the CSV's six columns, `id` the key. */
export const PG_DDL = (t) => `create table ${t} (id bigint primary key, email text, name text, country text, amount numeric(12,2), created_at timestamptz)`;

/**
 * A PostgreSQL benchmark's own database `name`, made afresh on the server of `base`, with the table
 * `reference` loaded from `csv` by `\copy`: its url and knex, `psqlCopy(table)` (the peer's command),
 * `fresh(table)` (an empty table) and `verify(table)` (see referenceCheck).
 */
export async function pgBenchDatabase(knexFactory, base, name, csv, rows) {
  const admin = knexFactory({ client: 'pg', connection: base, pool: { min: 0, max: 1 } });
  await admin.raw(`drop database if exists ${name} with (force)`);
  await admin.raw(`create database ${name}`);
  await admin.destroy();
  const url = base.replace(/\/[^/]*$/, `/${name}`);
  const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
  const psqlCopy = (table) => ['psql', [url, '-qc', `\\copy ${table} (${COLUMNS.join(', ')}) from '${csv}' with (format csv, header true)`]];
  // The reference: what \copy makes of the file. Every contender's table must hash the same.
  await knex.raw(PG_DDL('reference'));
  execFileSync(...psqlCopy('reference'));
  const fingerprint = async (table) => {
    const { rows: r } = await knex.raw(`select count(*)::bigint as n, md5(string_agg(md5(t::text), '' order by t.id, t::text collate "C")) as h from ${table} t`);
    return { n: Number(r[0].n), h: r[0].h };
  };
  const verify = await referenceCheck(fingerprint, 'reference', rows);
  const fresh = (table) => async () => {
    await knex.raw(`drop table if exists ${table}`);
    await knex.raw(PG_DDL(table));
  };
  return { url, knex, psqlCopy, fresh, verify };
}

export const median = (values) => {
  const s = [...values].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const loadNow = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/**
 * Runs `contenders` for `rounds` rounds, interleaved (the order rotates each round). Each contender:
 * `{ id, label, prepare?(), run(), verify() }` — `prepare` (untimed) makes its fresh or pre-filled
 * table; `run` returns `{ seconds, rssMB? }`; `verify` returns undefined when the output is right or
 * a message saying what is wrong. Returns `{ rounds: [{ load, results: { id: { seconds, rssMB, ok, problem } } }] }`.
 */
export async function interleave(contenders, rounds) {
  const out = [];
  for (let r = 0; r < rounds; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    const results = {};
    const load = { before: loadNow() };
    for (const c of order) {
      await c.prepare?.();
      const loadBefore = loadavg()[0];
      let timing;
      try {
        timing = await c.run();
      } catch (error) {
        results[c.id] = { ok: false, problem: `failed: ${String(error.message ?? error).split('\n').slice(0, 3).join(' ')}` };
        process.stderr.write(`round ${r + 1} ${c.id}: ${results[c.id].problem}\n`);
        continue;
      }
      const problem = await c.verify();
      results[c.id] = { seconds: timing.seconds, rssMB: timing.rssMB, ...(timing.cpuSeconds !== undefined ? { cpuSeconds: Number(timing.cpuSeconds.toFixed(2)) } : {}), ok: problem === undefined, ...(problem ? { problem } : {}), load1: Number(loadBefore.toFixed(2)) };
      process.stderr.write(
        `round ${r + 1} ${c.id}: ${timing.seconds.toFixed(2)} s${timing.cpuSeconds !== undefined ? ` (cpu ${timing.cpuSeconds.toFixed(2)} s)` : ''}${timing.rssMB ? `, ${timing.rssMB} MB` : ''}${problem ? `, WRONG OUTPUT: ${problem}` : ', verified'} (load ${loadNow()})\n`,
      );
    }
    load.after = loadNow();
    out.push({ load, results });
  }
  return out;
}

/**
 * Median over rounds of `peer time / sluice time` (how many times the peer's speed sluice reaches),
 * only from rounds where both outputs were verified; undefined when any round's output was wrong.
 */
export function pairedRatio(rounds, sluiceId, peerId) {
  const ratios = [];
  for (const { results } of rounds) {
    const s = results[sluiceId];
    const p = results[peerId];
    if (!s?.ok || !p?.ok) return undefined;
    ratios.push(p.seconds / s.seconds);
  }
  return ratios.length ? { median: median(ratios), each: ratios } : undefined;
}

/** Median time and max RSS of one contender, or undefined when any of its outputs was wrong. */
export function summary(rounds, id) {
  const all = rounds.map((r) => r.results[id]);
  if (all.some((x) => !x?.ok)) return { ok: false, problem: all.find((x) => !x?.ok)?.problem ?? 'missing' };
  const rss = all.map((x) => x.rssMB).filter((x) => x !== undefined);
  return { ok: true, seconds: median(all.map((x) => x.seconds)), rssMB: rss.length ? Math.max(...rss) : undefined };
}

export function machine(extra) {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${extra ? `, ${extra}` : ''}`;
}

/** The commit of the build under test (the checkout SLUICE_BENCH_BIN is in, else this one). */
export function commit() {
  const root = resolve(dirname(BIN), '../../..');
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages'], { cwd: root }).toString().trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

/**
 * Writes `bench/results/sql-NAME.json` and regenerates docs/benchmarks-sql.md from every
 * `bench/results/sql-*.json` present, so the document is always what committed code produced.
 */
export function saveResults(name, result) {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `sql-${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  renderResults();
}

/** Regenerates docs/benchmarks-sql.md from the results files (`node bench/sql-lib.mjs`). */
export function renderResults() {
  const parts = readdirSync(RESULTS)
    .filter((f) => /^sql-[a-z]+\.json$/.test(f))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(RESULTS, f), 'utf8')));
  writeFileSync(join(ROOT, 'docs/benchmarks-sql.md'), renderDoc(parts));
}

/**
 * What the figures of each database mean, from the profiles (`node bench/sql-profile.mjs WORKLOAD`):
 * kept here so that a regenerated document keeps them. Update them with the figures.
 */
const NOTES = {
  PostgreSQL: [
    '**Note**: the tables of all three databases are one round each (1M rows) at load 14–20, taken to check',
    'the build with the engine\'s pipelining and growing batches (before them, at 9f4be29, 3 rounds at load',
    '26–48: CSV insert 0.18× `\\copy`, JSON Lines 0.20×, upsert 0.91× knex and 0.10× `\\copy`, MariaDB 0.13×,',
    'SQLite 0.26×); `node bench/all.mjs` on a quiet machine, 3 rounds, is the measurement of record.',
    '',
    '**Where the time goes** (`node bench/sql-profile.mjs pg-csv-insert`, 1M rows, `node --cpu-prof`):',
    '- before (main at 9b4191f: csv-parse, a serial sink, savepoints around every COPY; load 17): 42.7 s,',
    '  43.5 % of the samples idle, csv-parse ~30 %, garbage collection 12 %, the sql sink\'s own JavaScript ~3 %;',
    '- after (main at 9f4be29: the new CSV reader, the sink\'s fast paths; load ~25): 37.2 s, 62 % idle,',
    '  garbage collection 9 %, the CSV reader 2.3 %, the sql sink ~2 % (COPY text encoding ~1 %);',
    '- with the engine\'s pipelining (main at 18b6a4c, batches of 1,000; load 14): 21.9 s by the clock, 9.4 s of CPU',
    '  (user + sys), 217 MB; 57 % of the samples idle (waiting on PostgreSQL), garbage collection 12.6 %, the CSV',
    '  reader 5.4 %, socket writes 2.7 %, the sql sink ~3.5 % (its record shapes 1.3 %, COPY escaping 1.1 %),',
    '  module loading ~2.5 % (0.55 s), checkpoint saves 2.3 %. With `checkpoint: { store: none }` the same load',
    '  was no faster (load 12): the checkpoint saves are not what it waits on; the commits are;',
    '- with growing batches (c85ad91: no `batch.size` → 1,000, 2,000, 4,000, 8,000, then 10,000 rows; ~105',
    '  commits instead of 1,000), same build, 3 alternating rounds at load 17–22: 31.5 s against 44.1 s with',
    '  `batch: { size: 1000 }` (1.40×), CPU 6.1 s against 7.9 s (−22 %), peak RSS 263 MB against 205 MB.',
    '  Batches of 5,000 against 10,000 (3 alternating rounds, load 11–17): 25.6 s against 24.3 s, CPU 6.6 s',
    '  against 6.4 s, peak RSS 222–226 MB against 246–254 MB, so the cap is now 5,000 rows (~200 commits).',
    '',
    '**Memory**: a 1-row job peaks at ~92 MB (Node alone: 40 MB; knex, ajv, yaml, tsyringe and the plugins',
    'loaded at start). During a load, the live heap after a full collection is ~25 MB with batches of 1,000 and',
    '~38 MB with grown batches, but V8 lets the heap grow to ~3.6× the live size before the next full',
    'collection (its growing factor at this allocation rate): 90–140 MB of heap at the peaks, plus code, young',
    'generation and buffers. On a loaded machine about one grown run in three peaked at 480–505 MB: a full',
    'collection whose incremental marking stretched over a starved CPU counted what was allocated meanwhile',
    'as live (117 MB once) and set the next limit from it. `--max-old-space-size=256` (a process flag, which',
    'the CLI cannot set for itself) held batches of 1,000 at 131 MB with no more CPU; `--optimize-for-size`',
    'set at run time held 118 MB for 20–30 % more CPU. What would close the RSS target: fewer objects per',
    'record (positions, the sql sink\'s row arrays and COPY strings), and a smaller start-up.',
    '',
    '**Allocation and CPU per record (2026-12-02, load 14–21, so CPU time of interleaved pairs, not wall',
    'time)**: bytes allocated by a 1M-row CSV → PostgreSQL load (sampling heap profiler, collected objects',
    'included) fell from 1,290 MB to 524 MB and young-generation collections from 134 to 64: COPY data written',
    'straight into 64 KiB Buffers (no string per field, row and chunk; 443 MB), no row array per record in the',
    'sql sink (150 MB), the record shape checked by a for-in instead of `Object.keys` + join (rows.js 478 → 47 ms',
    'self), pages made at their size and batches merged by `concat` (~100 MB), an ASCII CSV region decoded once',
    'per chunk and a row without quotes sliced straight into its record (no per-row string, no `split` array:',
    'the file source alone 1.47 s → 0.93 s of CPU for 1M rows). The sluice process\'s CPU for the load went from',
    '4.0–5.4 s to 3.2–3.9 s in interleaved pairs before the last CSV step (load 17–21).',
    '',
    '**Peak RSS** is still ~200 MB: after a full collection ~24 MB is live, and V8 lets the old generation grow',
    'to ~3.5× that before the next one; the young generation is 2 × 16 MB. Measured (1M rows, load 15–19):',
    '`--heap-growing-percent=100` set at run time (`v8.setFlagsFromString`, which V8 reads at every full',
    'collection) → ~160 MB for +18 % CPU (7 interleaved pairs), so not taken; `--max-semi-space-size=4',
    '--heap-growing-percent=100` as process flags → 133 MB with no CPU cost visible in 2 runs, but the',
    'semi-space cannot be changed after start (set at run time the young generation stays at 32 MB), and',
    '`--semi-space-growth-factor=1` at run time → 123 MB for +40 % CPU. Process flags were later tried on the',
    '`sluice` command and dropped for their CPU cost (docs/benchmarks.md, "node\'s flags"); where the peak goes',
    'now: bench/results/rss-breakdown.md.',
    '',
    '**What would close the speed gap**: a CSV file now goes in as raw pages (~1.4 s of Sluice CPU for 1M rows,',
    '0.65× `\\copy`). JSON Lines takes ~2.9 s of CPU (2026-12-02): the reader with JSON.parse ~23 %, garbage',
    'collection ~21 %, COPY encoding ~15 %, start-up ~11 %, the engine under 3 %',
    '(bench/results/profile-jsonl-pg-insert.md); docs/benchmarks.md lists what would close each missed target.',
  ],
  MariaDB: [
    'Sluice loads each batch with `LOAD DATA LOCAL INFILE` streamed from memory (a batch with any warning',
    'is rolled back and written again with statements, so nothing is skipped or cut silently). With growing',
    'batches a load with the default settings is ~200 transactions, not 1,000.',
  ],
  SQLite: [
    '**Where the time goes** (`node bench/sql-profile.mjs sqlite-csv-upsert 200000`, loaded machine): the sql',
    'sink ~25–30 % of the samples, of which SQLite\'s own inserts ~17 % and COMMIT ~9 % (WAL with',
    '`synchronous = FULL`: every batch\'s COMMIT waits for the disk), CSV reading and garbage collection',
    'the rest. Before: one prepared statement per row; now 100 rows per statement (the sink\'s JavaScript',
    'fell from ~14 % to ~2 % self time). `sqlite3 .import` commits once.',
    '',
    '**What would close the gap**: fewer commits — a job without `batch.size` now grows its batches to',
    '5,000 rows (~200 commits for 1M rows; in the figures above) — or `synchronous = NORMAL` when the',
    'checkpoint lives in the same database file, where rows and checkpoint share one ordered WAL.',
    'SQLite\'s statements and COMMITs run on a writer thread beside the parsing (`node',
    'bench/sql-sqlite-threads.mjs` shows the CPU of each thread, this build against an older one).',
  ],
  Load: [],
};

const fmt = (x, digits = 2) => (x === undefined ? '—' : x.toFixed(digits));

function renderDoc(parts) {
  const lines = [
    '# SQL benchmarks',
    '',
    '<!-- Generated by bench/sql.mjs, bench/sql-mariadb.mjs and bench/sql-sqlite.mjs from bench/results/sql-*.json; do not edit. -->',
    '',
    'Each script loads the same deterministic 6-column file (id, email, name, country, amount,',
    'created_at; one name in 50 is quoted CSV) with Sluice and with the database\'s own loader, into a',
    'fresh table per contender (or a table pre-filled with a stale copy of every row, for the upserts),',
    'then checks the output: the row count and a hash of every row in key order must equal those of a',
    "reference table loaded by the database's own tool. A contender whose output is wrong gets no",
    'figure. Contenders run interleaved (the order rotates each round); a ratio is the median over',
    'rounds of `peer time / sluice time` from the same round. Sluice runs are the real CLI',
    '(`sluice run --fresh --progress none`, startup included) with the default job settings (no',
    '`batch:`), peak RSS from `/usr/bin/time`. `load` is the 1-minute load average around each run on',
    'a 2-core machine: above ~1 the figures are from a shared, busy machine.',
    '',
    'Rerun all three on a quiet machine with `node bench/sql.mjs && node bench/sql-mariadb.mjs && node',
    'bench/sql-sqlite.mjs` (1M rows, 3 rounds each; `SLUICE_BENCH_BIN=…/bin.js` measures another build),',
    'or every issue-12 workload with `node bench/all.mjs` ([benchmarks-issue12.md](benchmarks-issue12.md)).',
    '',
  ];
  for (const p of parts) {
    lines.push(`## ${p.title}`, '', `${p.rows.toLocaleString('en-US')} rows, ${p.rounds.length} rounds; ${p.machine}; commit ${p.commit}; ${p.date}.`, '');
    lines.push(`Load average (1, 5, 15 min) before/after each round: ${p.rounds.map((r, i) => `round ${i + 1}: ${r.load.before} / ${r.load.after}`).join('; ')}.`, '');
    lines.push('| contender | median time | rows/s | peak RSS | verified |', '|---|--:|--:|--:|---|');
    for (const c of p.contenders) {
      const s = c.summary;
      lines.push(
        `| ${c.label} | ${s.ok ? `${fmt(s.seconds)} s` : '—'} | ${s.ok ? Math.round(p.rows / s.seconds).toLocaleString('en-US') : '—'} | ${s.ok && s.rssMB !== undefined ? `${s.rssMB} MB` : '—'} | ${s.ok ? 'yes, every round' : `**no**: ${s.problem}`} |`,
      );
    }
    lines.push('', '| target | per round | median | met? |', '|---|---|--:|---|');
    for (const t of p.targets) {
      const r = t.ratio;
      lines.push(
        `| ${t.label} ≥ ${t.min}× | ${r ? r.each.map((x) => fmt(x)).join(', ') : 'no figure: an output failed verification'} | ${r ? `${fmt(r.median)}×` : '—'} | ${r ? (r.median >= t.min ? 'yes' : '**no**') : '**no**'} |`,
      );
    }
    const rss = p.contenders.filter((c) => c.sluice && c.summary.ok).map((c) => c.summary.rssMB);
    if (rss.length) lines.push(`| Sluice peak RSS ≤ 128 MB | | ${Math.max(...rss)} MB | ${Math.max(...rss) <= 128 ? 'yes' : '**no**'} |`);
    const notes = [...(NOTES[p.title] ?? []), ...(p.notes ?? [])];
    if (notes.length) lines.push('', ...notes);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

/** Builds the result object a script saves. */
export function result({ title, rows, rounds, contenders, targets, machineExtra, notes }) {
  return {
    title,
    rows,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: machine(machineExtra),
    commit: commit(),
    rounds,
    contenders: contenders.map((c) => ({ id: c.id, label: c.label, sluice: !!c.sluice, summary: summary(rounds, c.id) })),
    targets: targets.map((t) => ({ ...t, ratio: pairedRatio(rounds, t.sluice, t.peer) })),
    notes,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) renderResults();
