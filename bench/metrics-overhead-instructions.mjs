// What `--metrics` costs, counted in instructions rather than seconds, so that the figure does not
// depend on what else loads the machine:
//   node bench/metrics-overhead-instructions.mjs [--records N] [--pairs P] [--modes off,off-2,metrics] [--single-threaded] [--seeded] [--out FILE]
//
// The file benchmark's job (the same as bench/metrics-overhead.mjs: JSON Lines → filter → map →
// JSON Lines, 1000-record batches) runs as a child `sluice run` under `valgrind --tool=callgrind`,
// which counts the instructions every thread of the process executes (Ir). The modes of a pair run
// at the same time (counts do not depend on sharing the cores):
//   off, off-2  no flags (off-2 against off is the method's own noise: V8's background compiler
//               and GC threads, and how many times a timer fires, differ a little from run to run);
//   metrics     --metrics 127.0.0.1:0, scraped once as soon as the endpoint is announced (the first
//               scrape of bench/metrics-overhead.mjs; later scrapes are counted by the per-scrape line);
//   before      the same with the CLI of `--before DIR`, a built checkout of an earlier commit.
// --single-threaded passes V8's flag of that name: no concurrent compiling or GC threads, whose
// share of the work otherwise varies from run to run (the same work then runs on the main thread).
// Under valgrind a run takes 25 to several hundred times longer (more on a loaded machine), so
// whatever is paid per second rather than per record (a timer: the event-loop delay monitor wakes
// 10 times a second) is counted that many times over: the figure is an upper bound for such costs.
// At 1M records the counts of two `off` runs still differ by ~1.5 % (how reads and writes
// interleave with the I/O threads changes the work), so a fixed cost is best measured on a small run.
// Every output must hold exactly the records the generator predicts before a figure is given.
// Also measured, in-process: the CPU time of one scrape (the median of 200).
// Writes bench/results/metrics-overhead-instructions-<records>.md.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRecords, outputProblems, SLUICE_STEPS } from './generate.mjs';
import { shebangFlags } from './sql-lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = join(ROOT, 'bench/.data');
const CLI = join(ROOT, 'packages/cli/dist/bin.js');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const RECORDS = Number(option('--records', 20));
const PAIRS = Number(option('--pairs', 3));
const MODES = option('--modes', 'off,off-2,metrics').split(',');
const RESULTS = option('--out', `bench/results/metrics-overhead-instructions-${RECORDS}.md`);
const BEFORE = option('--before', undefined);
const SINGLE = argv.includes('--single-threaded');
// V8's hash and random seeds fixed: hash tables laid out alike from run to run (with
// --single-threaded, two `off` runs of 3 records then differ by ~0.1 % instead of ~4 %).
const SEEDED = argv.includes('--seeded');
if (MODES.includes('before') && !BEFORE) throw new Error('mode before needs --before DIR (a built checkout of the commit to compare with)');
if (MODES[0] !== 'off') throw new Error('--modes must start with off (the differences are against it)');

mkdirSync(join(DATA, 'out'), { recursive: true });
const data = ensureRecords(DATA, RECORDS).meta;

const jobOf = (mode) => join(DATA, `metrics-instructions-${RECORDS}-${mode}.yaml`);
const outputOf = (mode) => join(DATA, `out/metrics-instructions-${mode}.jsonl`);
for (const mode of MODES) writeFileSync(
  jobOf(mode),
  `version: 1
name: metrics-overhead-${mode}
batch: { size: 1000, inFlight: 4 }
checkpoint: { store: none }
source: { use: file, with: { path: records-${RECORDS}.jsonl, format: jsonl } }
${SLUICE_STEPS}sink: { use: file, with: { path: out/metrics-instructions-${mode}.jsonl, format: jsonl } }
`,
);


async function runOnce(mode) {
  rmSync(outputOf(mode), { force: true });
  const out = join(DATA, `.callgrind-${process.pid}-${mode}`);
  const cli = mode === 'before' ? join(BEFORE, 'packages/cli/dist/bin.js') : CLI;
  // node under valgrind directly (valgrind would count /usr/bin/env), with the node flags of the bin's shebang.
  const args = ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, ...shebangFlags(cli), ...(SINGLE ? ['--single-threaded'] : []), ...(SEEDED ? ['--hash-seed=1', '--random-seed=1'] : []), cli, 'run', jobOf(mode), '--fresh', '--progress', 'none'];
  if (mode.startsWith('metrics') || mode === 'before') args.push('--metrics', '127.0.0.1:0');
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('OTEL_')) delete env[key];
  const child = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  let scraped;
  child.stderr.on('data', (d) => {
    stderr += d;
    const url = /metrics at (\S+)/.exec(stderr)?.[1];
    if (url && !scraped) scraped = fetch(url).then((r) => r.text()).then((t) => t.includes('process_cpu_seconds_total'), () => false);
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  rmSync(out, { force: true });
  if (code !== 0) throw new Error(`${mode}: exit ${code}\n${stderr}`);
  const ir = Number(/Collected : (\d+)/.exec(stderr)?.[1]);
  const problems = outputProblems(outputOf(mode), data.expected);
  if ((mode.startsWith('metrics') || mode === 'before') && !(await scraped)) problems.push('not scraped (or no process metrics in the scrape)');
  return { mode, ir, problems };
}

/** CPU time of one scrape of a registry fed one run's reading, in-process (the median of 200). */
async function scrapeCost() {
  const { SluiceMetrics } = await import(join(ROOT, 'packages/cli/dist/metrics/registry.js'));
  const metrics = await SluiceMetrics.create();
  const steps = new Map([
    ['filter', { kind: 'transform', in: 1, out: 1, filtered: 1, deadLettered: 0, skipped: 0, retries: 0, waitMs: 0 }],
    ['map', { kind: 'transform', in: 1, out: 1, filtered: 0, deadLettered: 0, skipped: 0, retries: 0, waitMs: 0 }],
    ['sink', { kind: 'sink', in: 1, out: 1, filtered: 0, deadLettered: 0, skipped: 0, retries: 0, waitMs: 0 }],
  ]);
  metrics.add({ readings: () => [{ job: 'j', totals: { read: 1, steps }, status: 'running', batchesInFlight: 1, checkpointAt: Date.now() }] });
  const times = [];
  for (let i = 0; i < 220; i++) {
    const t = process.cpuUsage();
    await metrics.text();
    const d = process.cpuUsage(t);
    if (i >= 20) times.push((d.user + d.system) / 1000);
  }
  return median(times);
}

function beforeCommit() {
  try {
    return readFileSync(join(BEFORE, '.commit'), 'utf8').trim();
  } catch {
    return 'commit not recorded in its .commit file';
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const load = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const pairs = [];
for (let p = 0; p < PAIRS; p++) {
  const before = load();
  const runs = await Promise.all(MODES.map((mode) => runOnce(mode)));
  const pair = Object.fromEntries(runs.map((x) => [x.mode, x]));
  pair.load = (before + load()) / 2;
  pairs.push(pair);
  process.stderr.write(`pair ${p + 1}/${PAIRS} (load ${pair.load.toFixed(1)}): ${MODES.map((m) => `${m} ${(pair[m].ir / 1e6).toFixed(1)}M`).join(', ')}\n`);
}
const scrapeMs = await scrapeCost();

const wrong = pairs.flatMap((pair) => MODES.flatMap((m) => pair[m].problems.map((p) => `${m}: ${p}`)));
const M = (x) => `${(x / 1e6).toFixed(1)}M`;
const lines = [
  `# --metrics: overhead in instructions, ${RECORDS.toLocaleString('en')} records`,
  '',
  `Generated by \`node bench/metrics-overhead-instructions.mjs --records ${RECORDS} --pairs ${PAIRS} --modes ${MODES.join(',')}${BEFORE ? ` --before ${BEFORE}` : ''}${SINGLE ? ' --single-threaded' : ''}${SEEDED ? ' --seeded' : ''}\` on ${new Date().toISOString().slice(0, 16)}Z.`,
  ...(BEFORE ? [`\`before\`: \`--metrics\` with the build of ${BEFORE} (${beforeCommit()}).`] : []),
  `The file benchmark's job (JSON Lines → filter → map → JSON Lines) as a child \`sluice run\` under \`valgrind --tool=callgrind\`:`,
  'instructions executed by all of its threads (Ir), which do not depend on the machine\'s load. `off-2` is `off` again (the',
  'method\'s own noise); `metrics`: `--metrics 127.0.0.1:0`, scraped once at once. Under valgrind a run lasts 25 to',
  'hundreds of times longer, so a cost paid per second (a timer) is counted that many times over. Every output verified.',
  '',
];
if (wrong.length) {
  lines.push(`**No figures: ${wrong.length} runs were wrong** — ${[...new Set(wrong)].join('; ')}`);
} else {
  lines.push(`Load (1 min) during the pairs: ${pairs.map((x) => x.load.toFixed(1)).join(', ')} (it does not change the counts).`, '');
  lines.push('| mode | median Ir | against off (median of pairs) | per pair |', '|---|---|---|---|');
  for (const m of MODES) {
    const diffs = pairs.map((pair) => pair[m].ir - pair.off.ir);
    const pct = pairs.map((pair) => (pair[m].ir / pair.off.ir - 1) * 100);
    lines.push(
      `| ${m} | ${M(median(pairs.map((x) => x[m].ir)))} | ${m === 'off' ? '—' : `${median(diffs) >= 0 ? '+' : ''}${M(median(diffs))} (${median(pct).toFixed(2)} %)`} | ${pairs.map((x) => M(x[m].ir)).join(', ')} |`,
    );
  }
  lines.push('', `One scrape (all metrics with Node's process metrics, one run's reading), in-process: ${scrapeMs.toFixed(2)} ms CPU (median of 200, load ${load().toFixed(1)}).`);
}
const text = `${lines.join('\n')}\n`;
writeFileSync(resolve(ROOT, RESULTS), text);
process.stdout.write(text);
if (wrong.length) process.exit(1);
