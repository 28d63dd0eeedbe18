// Every issue-12 workload in one command, one script after another:
//   node bench/all.mjs [--rows N] [--rounds R] [--only a,b] [--skip a,b]
// Runs bench/sql.mjs, sql-mariadb.mjs, sql-sqlite.mjs, csv-to-jsonl.mjs, jsonl-map-filter.mjs,
// threads.mjs and ratelimit.mjs (each regenerates its bench/results/* file and, where it has one,
// its docs/benchmarks-*.md), then writes bench/results/all.json and docs/benchmarks-issue12.md: every
// target of issue 12 with the figure each script measured and the machine's load while it ran.
// Defaults are the issue's: 1M rows, 3 rounds. `--rows 20000 --rounds 1` is a quick pass that checks
// the whole chain works (the scripts insist on 3 rounds where a median needs them). The build under
// test is packages/cli/dist (`npx tsc -b` first). Needs psql, mariadb, sqlite3, mlr (Debian's
// miller) and /usr/bin/time on PATH, PostgreSQL and MariaDB as bench/sql*.mjs describe.
// A script that fails is reported and the others still run; the exit code is then 1.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderIssue12 } from './issue12-lib.mjs';
import { commit, RESULTS, ROOT } from './sql-lib.mjs';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    skip: { type: 'string' },
  },
});
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(ROWS) || ROWS < 1 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error('usage: node bench/all.mjs [--rows N] [--rounds R] [--only a,b] [--skip a,b] (N, R whole numbers ≥ 1)');
  process.exit(2);
}
const full = ROWS >= 1_000_000;

/** The workloads, in the order they run; `args` are the script's own options. */
const SCRIPTS = [
  { id: 'sql', file: 'sql.mjs', args: [String(ROWS), String(ROUNDS)], needs: ['psql'] },
  { id: 'sql-mariadb', file: 'sql-mariadb.mjs', args: [String(ROWS), String(ROUNDS)], needs: ['mariadb'] },
  { id: 'sql-sqlite', file: 'sql-sqlite.mjs', args: [String(ROWS), String(ROUNDS)], needs: ['sqlite3'] },
  { id: 'csv-to-jsonl', file: 'csv-to-jsonl.mjs', args: [String(ROWS), '--rounds', String(ROUNDS)], needs: ['mlr'] },
  { id: 'jsonl-map-filter', file: 'jsonl-map-filter.mjs', args: ['--records', String(ROWS), '--rounds', String(ROUNDS)], needs: [] },
  // A CPU-bound job: 60,000 records × 80 hashes is the issue's size; a quick pass scales it down.
  { id: 'threads', file: 'threads.mjs', args: ['--records', String(full ? 60_000 : Math.max(1_000, Math.round(ROWS * 0.06))), '--runs', String(ROUNDS), '--json', join(RESULTS, 'threads.json')], needs: [] },
  // The same with a plain-JavaScript transform: burn hashes through node:crypto, whose OpenSSL
  // digests contend across threads of one process (bench/results/threads-profile-2026-12-02.md).
  { id: 'threads-churn', file: 'threads.mjs', args: ['--records', String(full ? 60_000 : Math.max(1_000, Math.round(ROWS * 0.06))), '--transform', 'churn', '--runs', String(ROUNDS), '--json', join(RESULTS, 'threads-churn.json')], needs: [] },
  { id: 'ratelimit', file: 'ratelimit.mjs', args: ['--rounds', String(ROUNDS), '--seconds', full ? '5' : '1'], needs: [] },
];
const pick = (list) => (list ? new Set(list.split(',').map((s) => s.trim())) : undefined);
const only = pick(values.only);
const skip = pick(values.skip) ?? new Set();
for (const id of [...(only ?? []), ...skip]) {
  if (!SCRIPTS.some((s) => s.id === id)) {
    console.error(`unknown workload '${id}'; known: ${SCRIPTS.map((s) => s.id).join(', ')}`);
    process.exit(2);
  }
}
const chosen = SCRIPTS.filter((s) => (!only || only.has(s.id)) && !skip.has(s.id));

if (!existsSync(join(ROOT, 'packages/cli/dist/bin.js'))) {
  console.error('packages/cli/dist/bin.js is missing: build first (npx tsc -b)');
  process.exit(2);
}
const missing = [...new Set(['/usr/bin/time', ...chosen.flatMap((s) => s.needs)])].filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
if (missing.length) {
  console.error(`missing on PATH: ${missing.join(', ')} (Debian: apt-get install -y time postgresql-client mariadb-client sqlite3 miller)`);
  process.exit(2);
}

const load = () => loadavg().map((l) => Number(l.toFixed(2)));
const runs = [];
for (const s of chosen) {
  const before = load();
  const started = performance.now();
  process.stderr.write(`\n=== ${s.id}: node bench/${s.file} ${s.args.join(' ')} (load ${before.join(' ')})\n`);
  const child = spawnSync(process.execPath, [join(ROOT, 'bench', s.file), ...s.args], { cwd: ROOT, stdio: 'inherit' });
  const run = { id: s.id, command: `node bench/${s.file} ${s.args.join(' ')}`.replace(ROOT + '/', ''), exit: child.status ?? child.signal, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), load: { before, after: load() } };
  runs.push(run);
  process.stderr.write(`=== ${s.id}: ${run.exit === 0 ? 'done' : `FAILED (exit ${run.exit})`} in ${run.seconds} s (load ${run.load.after.join(' ')})\n`);
}

const summary = { date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', commit: commit(), rows: ROWS, rounds: ROUNDS, runs };
writeFileSync(join(RESULTS, 'all.json'), `${JSON.stringify(summary, null, 2)}\n`);
renderIssue12();
const failed = runs.filter((r) => r.exit !== 0);
process.stderr.write(`\n${runs.length - failed.length} of ${runs.length} workloads ran${failed.length ? `; failed: ${failed.map((r) => r.id).join(', ')}` : ''}. Summary: docs/benchmarks-issue12.md\n`);
process.exit(failed.length ? 1 : 0);
