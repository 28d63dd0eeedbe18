// The sql sink's COPY encoding alone (copyChunks) in two builds, A and B, on the records of the JSON
// Lines twin of the issue-12 file (bench/sql-lib.mjs `dataFiles`), as the load meets them: each batch of
// 5,000 records parsed by JSON.parse two batches before it is encoded (so they are no longer hot in
// the cache), only the encoding timed (process.cpuUsage: user + sys).
//   node bench/jsonl-copy-encode.mjs --a DIR --b DIR [--rows N] [--pairs N] [--out FILE]
// Each DIR is a built checkout (default B: this one). Each measurement is a child process (a warm-up
// round, then the median of 5 rounds); pairs alternate which build goes first. Both builds' COPY bytes
// must be identical (sha256) before a figure is printed. Prints the median of the per-pair ratios
// A CPU / B CPU (above 1: B is cheaper), with the load average beside every child.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuSeconds } from './jsonl-lib.mjs';
import { COLUMNS, dataFiles, median, ROOT } from './sql-lib.mjs';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const ROWS = Number(option('--rows', 1_000_000));
const BATCH = 5000;
const KINDS = { id: 'int', email: 'text', name: 'text', country: 'text', amount: 'float', created_at: 'timestamptz' };

if (argv[0] === '--child') {
  const { copyChunks } = await import(pathToFileURL(join(argv[1], 'packages/plugins/sql/dist/copy-text.js')).href);
  const lines = readFileSync(dataFiles(ROWS).jsonl, 'utf8').split('\n').filter(Boolean);
  const columns = COLUMNS.map((name) => ({ name, type: KINDS[name], kind: KINDS[name], nullable: true }));
  const round = (hash) => {
    let seconds = 0;
    const pending = [];
    const encode = (records) => {
      const index = records.map((_, i) => i);
      const t = cpuSeconds();
      for (const chunk of copyChunks({ columns, fields: COLUMNS, records, index }, index)) hash?.update(chunk);
      seconds += cpuSeconds() - t;
    };
    for (let s = 0; s < lines.length; s += BATCH) {
      const records = [];
      for (let i = s; i < s + BATCH && i < lines.length; i++) records.push(JSON.parse(lines[i]));
      pending.push(records);
      if (pending.length === 3) encode(pending.shift());
    }
    for (const records of pending) encode(records);
    return seconds;
  };
  const hash = createHash('sha256');
  round(hash);
  const rounds = Array.from({ length: 5 }, () => round());
  process.stdout.write(JSON.stringify({ cpu: median(rounds), sha: hash.digest('hex') }));
  process.exit(0);
}

const PAIRS = Math.max(1, Number(option('--pairs', 5)));
const OUT = option('--out', undefined);
const builds = { A: resolve(option('--a', ROOT)), B: resolve(option('--b', ROOT)) };
const script = fileURLToPath(import.meta.url);
dataFiles(ROWS);
const lines = [];
const say = (line) => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};
const runs = { A: [], B: [] };
say(`COPY encoding of ${ROWS} JSON Lines records (batches of ${BATCH}), ${PAIRS} interleaved pairs; A ${builds.A}, B ${builds.B}`);
for (let pair = 1; pair <= PAIRS; pair++) {
  for (const id of pair % 2 ? ['A', 'B'] : ['B', 'A']) {
    const load = loadavg()[0];
    const r = JSON.parse(execFileSync(process.execPath, [script, '--child', builds[id], '--rows', String(ROWS)], { cwd: ROOT, encoding: 'utf8' }));
    runs[id].push(r);
    say(`pair ${pair} ${id}: ${r.cpu.toFixed(3)} s CPU (median of 5 rounds), load ${load.toFixed(1)}`);
  }
}
for (const id of ['A', 'B']) for (const r of runs[id]) if (r.sha !== runs.A[0].sha) throw new Error(`${id} wrote different COPY bytes; no figures`);
const ratios = runs.A.map((a, i) => a.cpu / runs.B[i].cpu);
say(`COPY bytes identical (sha256 ${runs.A[0].sha.slice(0, 16)}…)`);
for (const id of ['A', 'B']) say(`${id}: median ${median(runs[id].map((r) => r.cpu)).toFixed(3)} s CPU`);
say(`median of per-pair ratios A/B: ${median(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(', ')}); load at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
if (OUT) writeFileSync(OUT, `${lines.join('\n')}\n`);
