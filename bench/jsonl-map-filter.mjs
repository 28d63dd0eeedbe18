// JSON Lines filter + map → JSON Lines: sluice with its default batch settings against the
// hand-written Node stream (bench/baseline.mjs), the peer issue 12 names (target ≥ 0.85×, peak RSS
// ≤ 128 MB). `node bench/jsonl-map-filter.mjs [--records N] [--rounds N] [--variant SIZExINFLIGHT]…`
//
// Rounds are interleaved (baseline, sluice, variants…, then again), each contender a child process
// timed from start to exit, peak RSS from `/usr/bin/time -f %M`. Every output is checked against the
// baseline's bytes (sha256) before any ratio is printed; the ratio is the median of the per-round
// ratios baseline time / sluice time. The machine's load average is written next to the figures.
// Results: bench/results/jsonl-map-filter.md (and .json).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = join(ROOT, 'bench', '.data');
const CLI = join(ROOT, 'packages/cli/dist/bin.js');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const RECORDS = Number(option('--records', 1_000_000));
const ROUNDS = Math.max(3, Number(option('--rounds', 3)));
const VARIANTS = argv.flatMap((a, i) => (a === '--variant' ? [argv[i + 1]] : []));

mkdirSync(join(DATA, 'out'), { recursive: true });
const input = join(DATA, `records-${RECORDS}.jsonl`);
if (!existsSync(input)) {
  process.stdout.write(`generating ${RECORDS} records… `);
  const meta = generate(RECORDS, input);
  writeFileSync(join(DATA, `records-${RECORDS}.meta.json`), JSON.stringify(meta, null, 2) + '\n');
  console.log('done');
}

/** The benchmark's transform as a job; `batch` undefined leaves the defaults. */
function job(name, batch) {
  const file = join(DATA, `${name}.yaml`);
  writeFileSync(
    file,
    `version: 1
name: ${name}
${batch ? `batch: { size: ${batch.split('x')[0]}, inFlight: ${batch.split('x')[1]} }\n` : ''}source:
  use: file
  with: { path: records-${RECORDS}.jsonl, format: jsonl }
steps:
  - use: filter
    with: { where: record.amount > 50 }
  - use: map
    with:
      set:
        name: record.name.toUpperCase()
        tag: "'big'"
sink:
  use: file
  with: { path: out/${name}.jsonl, format: jsonl }
`,
  );
  return { file, output: join(DATA, 'out', `${name}.jsonl`) };
}

const contenders = [
  { id: 'baseline', label: 'hand-written Node stream (bench/baseline.mjs)', output: join(DATA, 'out', 'mf-baseline.jsonl') },
  { id: 'sluice', label: 'sluice run, default batch settings', ...job('mf-sluice') },
  ...VARIANTS.map((v) => ({ id: `sluice-${v}`, label: `sluice run, batch ${v.replace('x', ' × ')}`, ...job(`mf-sluice-${v}`, v) })),
];
for (const c of contenders) {
  c.args = c.id === 'baseline' ? [join(ROOT, 'bench/baseline.mjs'), input, c.output] : [CLI, 'run', c.file, '--fresh', '--progress', 'none'];
  c.runs = [];
}

const sha = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

function once(c) {
  rmSync(c.output, { force: true });
  const rss = join(DATA, `.rss-${c.id}`);
  const load = loadavg()[0];
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rss, process.execPath, ...c.args], { cwd: ROOT, encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`${c.id} failed: ${run.stderr}`);
  return { seconds, rssMb: Number(readFileSync(rss, 'utf8').trim().split('\n').at(-1)) / 1024, sha: sha(c.output), load };
}

for (let round = 1; round <= ROUNDS; round++) {
  for (const c of contenders) {
    const r = once(c);
    c.runs.push(r);
    console.log(`round ${round} ${c.id}: ${r.seconds.toFixed(2)} s, ${r.rssMb.toFixed(0)} MB, load ${r.load.toFixed(1)}`);
  }
}

// Outputs first: every run of every contender must have written the baseline's bytes.
const expected = contenders[0].runs[0].sha;
for (const c of contenders) for (const r of c.runs) if (r.sha !== expected) throw new Error(`${c.id} wrote different output (sha256 ${r.sha} ≠ ${expected}); no figures`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = contenders[0];
const rows = contenders.map((c) => ({
  id: c.id,
  label: c.label,
  medianSeconds: median(c.runs.map((r) => r.seconds)),
  medianRssMb: median(c.runs.map((r) => r.rssMb)),
  maxRssMb: Math.max(...c.runs.map((r) => r.rssMb)),
  ratio: median(c.runs.map((r, i) => base.runs[i].seconds / r.seconds)),
  loads: c.runs.map((r) => r.load),
}));
const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
const git = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
const lines = [
  `# JSON Lines filter + map → JSON Lines, ${RECORDS.toLocaleString('en-US')} records`,
  '',
  `Generated by \`node bench/jsonl-map-filter.mjs${argv.length ? ' ' + argv.join(' ') : ''}\` on ${when} UTC, code \`${git}\`, Node ${process.version}, ${ROUNDS} interleaved rounds.`,
  `Every run's output was checked byte for byte (sha256 \`${expected.slice(0, 16)}…\`) against the hand-written stream's before these figures were printed.`,
  'Ratio: median over rounds of (hand-written time / contender time); above 1 is faster. Load: the 1-minute load average as each run started (2 cores).',
  '',
  '| contender | median time | × hand-written | peak RSS (median / max) | load at start |',
  '|---|--:|--:|--:|---|',
  ...rows.map((r) => `| ${r.label} | ${r.medianSeconds.toFixed(2)} s | ${r.ratio.toFixed(2)} | ${r.medianRssMb.toFixed(0)} / ${r.maxRssMb.toFixed(0)} MB | ${r.loads.map((l) => l.toFixed(1)).join(', ')} |`),
  '',
  `Targets (issue 12): ≥ 0.85× the hand-written stream, peak RSS ≤ 128 MB.`,
  '',
];
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/jsonl-map-filter.md'), lines.join('\n'));
writeFileSync(join(ROOT, 'bench/results/jsonl-map-filter.json'), JSON.stringify({ when, git, node: process.version, records: RECORDS, rounds: ROUNDS, rows, runs: Object.fromEntries(contenders.map((c) => [c.id, c.runs])) }, null, 2) + '\n');
console.log('\n' + lines.join('\n'));
