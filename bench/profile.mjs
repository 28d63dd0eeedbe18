// CPU profile of the benchmark's sluice run: `node bench/profile.mjs [--records N] [--store file|none] [--top N]`.
// Needs the data and job from a `node bench/run.mjs` (or `--quick`) first. Writes the .cpuprofile into
// bench/.data/prof/ (open it in Chrome DevTools → Performance, or read the summary printed here).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSummary, summarise } from './cpuprofile-summary.mjs';
import { sluiceCommand } from './sql-lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = join(ROOT, 'bench', '.data');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const records = Number(option('--records', 1_000_000));
const store = option('--store', 'file');
const top = Number(option('--top', 25));

const job = join(DATA, `bench-${records}-${store}.yaml`);
if (!existsSync(job)) {
  console.error(`${relative(ROOT, job)} is missing: run node bench/run.mjs first (--quick makes the 200000 and 1000000 jobs)`);
  process.exit(2);
}
const dir = join(DATA, 'prof');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const started = performance.now();
const run = spawnSync(...sluiceCommand(['run', job, '--fresh', '--progress', 'none'], { bin: join(ROOT, 'packages/cli/dist/bin.js'), nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`] }), {
  cwd: ROOT,
  encoding: 'utf8',
});
const seconds = (performance.now() - started) / 1000;
if (run.status !== 0) {
  console.error(run.stdout, run.stderr);
  process.exit(1);
}
const file = readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .map((f) => join(dir, f))
  .sort((a, b) => statSync(b).size - statSync(a).size)[0];
console.log(`sluice run of ${records.toLocaleString('en-US')} records (store ${store}) under --cpu-prof: ${seconds.toFixed(2)} s wall`);
console.log(`profile: ${relative(ROOT, file)}\n`);
process.stdout.write(formatSummary(summarise(JSON.parse(readFileSync(file, 'utf8')), top)));
