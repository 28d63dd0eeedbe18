// What the expression guards cost: the same 1M-record map/filter jobs run by this tree's sluice and
// by a build of the commit before the guards (`--baseline DIR`, a checkout with `npm run setup` done).
//
//   node bench/expressions.mjs --baseline /path/to/checkout [--runs 3] [--count 1000000]
//
// Jobs: `plain` is bench/run.mjs's filter + map (no arrow, no regex: the guards add no code);
// `arrow` filters with a callback (the watch ticks once per call); `regex` filters with a regex
// literal V8's linear engine can run (V8, with the fallback on); `regexI` with one it cannot (RE2).
// `--micro-only` skips the jobs; `--jobs plain,arrow` picks some. Rounds interleave baseline and guarded runs; the figure is
// the median of the per-round ratios guarded/baseline. Load (uptime) is written beside each round.
// Writes bench/results/expressions.json and prints a Markdown table for docs/benchmarks-expressions.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.mjs';
import { sluiceCommand } from './sql-lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = join(ROOT, 'bench', '.data');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const BASELINE = option('--baseline');
const RUNS = Number(option('--runs', 3));
const COUNT = Number(option('--count', 1_000_000));
const MICRO_ONLY = argv.includes('--micro-only');
if (!BASELINE) {
  console.error('usage: node bench/expressions.mjs --baseline DIR [--runs N] [--count N]');
  process.exit(2);
}

const MAP = `  - use: map
    with: { set: { name: record.name.toUpperCase(), tag: "'big'" } }`;
const JOBS = {
  plain: `  - use: filter\n    with: { where: record.amount > 50 }\n${MAP}`,
  arrow: `  - use: filter\n    with: { where: "[record.amount].some(a => a > 50)" }\n${MAP}`,
  regex: `  - use: filter\n    with: { where: "/^[a-h]/.test(record.name)" }\n${MAP}`,
  regexI: `  - use: filter\n    with: { where: "/^[a-h]/i.test(record.name)" }\n${MAP}`,
};
const PICKED = option('--jobs', Object.keys(JOBS).join(',')).split(',');

function writeJob(name, input) {
  const file = join(DATA, `expressions-${name}.yaml`);
  writeFileSync(
    file,
    `version: 1\nname: expressions-${name}\nsource:\n  use: file\n  with: { path: ${input} }\nsteps:\n${JOBS[name]}\n` +
      `checkpoint: { store: none }\nsink:\n  use: file\n  with: { path: out-${name}.jsonl }\n`,
  );
  return file;
}

function run(cli, job) {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(...sluiceCommand(['run', job, '--fresh', '--progress', 'none'], { bin: cli }), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`${cli} exited ${code}: ${stderr}`));
      done(Number(process.hrtime.bigint() - started) / 1e9);
    });
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

mkdirSync(DATA, { recursive: true });
const input = join(DATA, `records-${COUNT}.jsonl`);
if (!MICRO_ONLY && !existsSync(input)) generate(COUNT, input);
const contenders = { baseline: join(resolve(BASELINE), 'packages/cli/dist/bin.js'), guarded: join(ROOT, 'packages/cli/dist/bin.js') };
const results = [];
for (const name of MICRO_ONLY ? [] : PICKED) {
  const job = writeJob(name, input);
  const rounds = [];
  for (let round = 0; round < RUNS; round++) {
    // Alternate which goes first, so a trend in the machine's load hits both alike.
    const order = round % 2 === 0 ? ['baseline', 'guarded'] : ['guarded', 'baseline'];
    const seconds = {};
    const sizes = {};
    for (const who of order) {
      seconds[who] = await run(contenders[who], job);
      sizes[who] = statSync(join(DATA, `out-${name}.jsonl`)).size;
    }
    if (sizes.baseline !== sizes.guarded) throw new Error(`${name}: outputs differ (${sizes.baseline} vs ${sizes.guarded} bytes)`);
    const load = loadavg()[0];
    rounds.push({ ...seconds, ratio: seconds.guarded / seconds.baseline, load1: Number(load.toFixed(2)) });
    console.error(`${name} round ${round + 1}: baseline ${seconds.baseline.toFixed(2)}s guarded ${seconds.guarded.toFixed(2)}s load ${load.toFixed(2)}`);
  }
  results.push({ job: name, rounds, medianRatio: median(rounds.map((r) => r.ratio)), baselineMedian: median(rounds.map((r) => r.baseline)), guardedMedian: median(rounds.map((r) => r.guarded)) });
}

// In-process: nanoseconds per evaluation of each job's filter expression, both compilers, interleaved.
const EXPRESSIONS = {
  plain: 'record.amount > 50',
  map: 'record.name.toUpperCase()',
  arrow: '[record.amount].some(a => a > 50)',
  regex: '/^[a-h]/.test(record.name)',
  regexI: '/^[a-h]/i.test(record.name)',
  replace: 'record.name.replace(/\\s+/g, "-")',
};
const compilers = {
  baseline: (await import(join(resolve(BASELINE), 'packages/core/dist/expr/index.js'))).compileExpression,
  guarded: (await import(join(ROOT, 'packages/core/dist/expr/index.js'))).compileExpression,
};
const sample = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: ['alice walker', 'ivan novak', 'priya silva'][i % 3], amount: (i * 37) % 100 }));
const scope = { env: {}, job: { name: 'bench' } };
function nsPerEvaluation(compile, source) {
  const { evaluate } = compile(source, scope);
  let kept = 0;
  for (const r of sample) if (evaluate(r)) kept++; // warm-up
  const started = process.hrtime.bigint();
  for (let pass = 0; pass < 50; pass++) for (let i = 0; i < sample.length; i++) if (evaluate(sample[i])) kept++;
  return { ns: Number(process.hrtime.bigint() - started) / (50 * sample.length), kept };
}
const micro = [];
for (const [name, source] of Object.entries(EXPRESSIONS)) {
  const ratios = [];
  const ns = { baseline: [], guarded: [] };
  for (let round = 0; round < 7; round++) {
    const b = nsPerEvaluation(compilers.baseline, source);
    const g = nsPerEvaluation(compilers.guarded, source);
    if (b.kept !== g.kept) throw new Error(`${name}: results differ`);
    ns.baseline.push(b.ns);
    ns.guarded.push(g.ns);
    ratios.push(g.ns / b.ns);
  }
  micro.push({ expression: source, baselineNs: median(ns.baseline), guardedNs: median(ns.guarded), medianRatio: median(ratios), load1: Number(loadavg()[0].toFixed(2)) });
}

const out = { count: COUNT, runs: RUNS, date: new Date().toISOString(), loadavg: loadavg(), results, micro };
writeFileSync(join(ROOT, 'bench', 'results', 'expressions.json'), `${JSON.stringify(out, null, 2)}\n`);
console.log('| job | baseline (median) | guarded (median) | median of guarded/baseline | load (1 min) per round |');
console.log('|---|--:|--:|--:|---|');
for (const r of results) {
  console.log(`| ${r.job} | ${r.baselineMedian.toFixed(2)} s | ${r.guardedMedian.toFixed(2)} s | ${r.medianRatio.toFixed(3)} | ${r.rounds.map((x) => x.load1).join(', ')} |`);
}
console.log('\n| expression | baseline ns/evaluation | guarded ns/evaluation | median ratio (7 rounds) | load |');
console.log('|---|--:|--:|--:|--:|');
for (const m of micro) console.log(`| \`${m.expression}\` | ${m.baselineNs.toFixed(1)} | ${m.guardedNs.toFixed(1)} | ${m.medianRatio.toFixed(2)} | ${m.load1} |`);
