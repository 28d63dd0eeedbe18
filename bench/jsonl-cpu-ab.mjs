// CPU time of the JSON Lines filter + map job (bench/jsonl-map-filter.mjs's workload) in two builds,
// A and B, run in interleaved pairs: for a per-record change measured on a shared, loaded machine,
// where wall time means little. `node bench/jsonl-cpu-ab.mjs --a DIR --b DIR [--records N] [--pairs N]`
// (each DIR a built checkout; default B is this one). Each run is a child process timed by
// `/usr/bin/time` (user + sys CPU seconds, peak RSS); pairs alternate which build goes first.
// Both builds' outputs must be byte-identical (sha256) before any figure is printed.
// Prints the medians and the median of the per-pair ratios A CPU / B CPU (above 1: B is cheaper).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRecords, SLUICE_STEPS } from './generate.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = join(ROOT, 'bench', '.data');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const RECORDS = Number(option('--records', 1_000_000));
const PAIRS = Math.max(1, Number(option('--pairs', 5)));
const builds = { A: resolve(option('--a', ROOT)), B: resolve(option('--b', ROOT)) };

mkdirSync(join(DATA, 'out'), { recursive: true });
ensureRecords(DATA, RECORDS, (text) => process.stdout.write(text));

function job(id) {
  const file = join(DATA, `ab-${id}.yaml`);
  writeFileSync(
    file,
    `version: 1
name: ab-${id.toLowerCase()}
source:
  use: file
  with: { path: records-${RECORDS}.jsonl, format: jsonl }
${SLUICE_STEPS}sink:
  use: file
  with: { path: out/ab-${id}.jsonl, format: jsonl }
`,
  );
  return { file, output: join(DATA, 'out', `ab-${id}.jsonl`) };
}

function once(id) {
  const { file, output } = job(id);
  rmSync(output, { force: true });
  const stats = join(DATA, `.ab-time-${id}`);
  const load = loadavg()[0];
  const run = spawnSync('/usr/bin/time', ['-f', '%U %S %M', '-o', stats, process.execPath, join(builds[id], 'packages/cli/dist/bin.js'), 'run', file, '--fresh', '--progress', 'none'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`${id} failed: ${run.stderr}`);
  const [user, sys, rss] = readFileSync(stats, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { cpu: user + sys, user, sys, rssMb: rss / 1024, load, sha: createHash('sha256').update(readFileSync(output)).digest('hex') };
}

const runs = { A: [], B: [] };
for (let pair = 1; pair <= PAIRS; pair++) {
  for (const id of pair % 2 ? ['A', 'B'] : ['B', 'A']) {
    const r = once(id);
    runs[id].push(r);
    console.log(`pair ${pair} ${id}: ${r.cpu.toFixed(2)} s CPU (user ${r.user.toFixed(2)}, sys ${r.sys.toFixed(2)}), ${r.rssMb.toFixed(0)} MB, load ${r.load.toFixed(1)}`);
  }
}
for (const id of ['A', 'B']) for (const r of runs[id]) if (r.sha !== runs.A[0].sha) throw new Error(`${id} wrote different output; no figures`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratios = runs.A.map((a, i) => a.cpu / runs.B[i].cpu);
console.log(`\n${RECORDS} records, ${PAIRS} pairs, outputs identical (sha256 ${runs.A[0].sha.slice(0, 16)}…)`);
for (const id of ['A', 'B']) console.log(`${id} ${builds[id]}: median CPU ${median(runs[id].map((r) => r.cpu)).toFixed(2)} s, median peak RSS ${median(runs[id].map((r) => r.rssMb)).toFixed(0)} MB`);
console.log(`median of per-pair ratios A/B: ${median(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(', ')}); load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
