// The fixed cost of `--metrics` per process, in alternating CPU pairs on a tiny job:
//   node bench/metrics-overhead-fixed.mjs [--records 3] [--rounds 30] [--modes off,metrics[,before]] [--before DIR] [--out FILE]
//
// The file benchmark's job (JSON Lines → filter → map → JSON Lines) over a few records, one child
// `sluice run` at a time, the modes of a round one after another in an order that rotates from
// round to round (runs at the same time would share the 2 cores and slow each other unevenly):
//   off      no flags;
//   metrics  --metrics 127.0.0.1:0 and one scrape, sent as soon as the endpoint is announced and
//            checked (sluice's counters and Node's process metrics in it);
//   before   metrics with the CLI of `--before DIR`, a built checkout of an earlier commit.
// A run this short may end before its scrape lands (its server closes with the run): such a round
// is run again, all of its modes (at most 5 times; the count of rounds run again is reported).
// Figure: CPU time (user + sys) of the child from wait4's rusage (µs); per round, each mode's
// difference in ms to `off` (and `metrics` to `before`); medians of the rounds. The 1-minute load
// average is recorded per round.
// Writes bench/results/metrics-overhead-fixed.md (or --out).
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
const RECORDS = Number(option('--records', 3));
const ROUNDS = Number(option('--rounds', 30));
const MODES = option('--modes', 'off,metrics').split(',');
const BEFORE = option('--before', undefined);
const RESULTS = option('--out', 'bench/results/metrics-overhead-fixed.md');
if (MODES[0] !== 'off') throw new Error('--modes must start with off (the differences are against it)');
for (const m of MODES) if (!['off', 'off-2', 'metrics', 'before', 'unscraped', 'before-unscraped'].includes(m)) throw new Error(`unknown mode ${m}`);
if (MODES.some((m) => m.startsWith('before')) && !BEFORE) throw new Error('mode before needs --before DIR (a built checkout of the commit to compare with)');

mkdirSync(join(DATA, 'out'), { recursive: true });
const data = ensureRecords(DATA, RECORDS).meta;
const jobOf = (mode) => join(DATA, `metrics-fixed-${RECORDS}-${mode}.yaml`);
const outputOf = (mode) => join(DATA, `out/metrics-fixed-${mode}.jsonl`);
for (const mode of MODES) writeFileSync(
  jobOf(mode),
  `version: 1
name: metrics-fixed-${mode}
batch: { size: 1000, inFlight: 4 }
checkpoint: { store: none }
source: { use: file, with: { path: records-${RECORDS}.jsonl, format: jsonl } }
${SLUICE_STEPS}sink: { use: file, with: { path: out/metrics-fixed-${mode}.jsonl, format: jsonl } }
`,
);

// The child's CPU time from wait4's rusage (µs).
const CPU_TIME = `
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], 'w') as out:
    out.write(f'{usage.ru_utime} {usage.ru_stime}')
sys.exit(os.waitstatus_to_exitcode(status))
`;
const load = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function runOnce(mode) {
  rmSync(outputOf(mode), { force: true });
  const timeFile = join(DATA, `.time-fixed-${process.pid}-${mode}`);
  const bin = mode.startsWith('before') ? join(BEFORE, 'packages/cli/dist/bin.js') : CLI;
  const serves = mode === 'metrics' || mode === 'before';
  const args = ['-c', CPU_TIME, timeFile, process.execPath, ...shebangFlags(bin), bin, 'run', jobOf(mode), '--fresh', '--progress', 'none'];
  if (serves || mode.endsWith('unscraped')) args.push('--metrics', '127.0.0.1:0');
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('OTEL_')) delete env[key];
  const child = spawn('python3', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  let scraped;
  child.stderr.on('data', (d) => {
    stderr += d;
    const url = /metrics at (\S+)/.exec(stderr)?.[1];
    if (url && serves && !scraped) {
      scraped = fetch(url)
        .then((r) => r.text())
        .then((t) => t.includes('process_cpu_seconds_total') && t.includes('sluice_records_read_total'), () => false);
    }
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${mode}: exit ${code}\n${stderr}`);
  const [user, sys] = readFileSync(timeFile, 'utf8').trim().split(' ').map(Number);
  rmSync(timeFile, { force: true });
  const problems = outputProblems(outputOf(mode), data.expected);
  if (serves && !(await scraped)) problems.push('not scraped (or the scrape lacked sluice or process metrics)');
  return { mode, ms: (user + sys) * 1000, problems };
}

const rounds = [];
let again = 0;
for (let r = 0; r < ROUNDS; r++) {
  const before = load();
  let round;
  for (let attempt = 0; ; attempt++) {
    round = {};
    for (const mode of MODES.map((_, i) => MODES[(i + r) % MODES.length])) round[mode] = await runOnce(mode);
    const missed = MODES.some((m) => round[m].problems.some((p) => p.startsWith('not scraped')));
    if (!missed || attempt === 4) break;
    again++;
  }
  round.load = (before + load()) / 2;
  rounds.push(round);
  process.stderr.write(`round ${r + 1}/${ROUNDS} (load ${round.load.toFixed(1)}): ${MODES.map((m) => `${m} ${round[m].ms.toFixed(1)}ms`).join(', ')}\n`);
}

const wrong = rounds.flatMap((round) => MODES.flatMap((m) => round[m].problems.map((p) => `${m}: ${p}`)));
const loads = rounds.map((x) => x.load);
const lines = [
  `# --metrics: the fixed CPU cost per process, ${RECORDS} records`,
  '',
  `Generated by \`node bench/metrics-overhead-fixed.mjs --records ${RECORDS} --rounds ${ROUNDS} --modes ${MODES.join(',')}${BEFORE ? ` --before ${BEFORE}` : ''}\` on ${new Date().toISOString().slice(0, 16)}Z.`,
  'The file benchmark\'s job (JSON Lines → filter → map → JSON Lines) as a child `sluice run`, one at a time, the modes of a',
  'round in a rotating order. CPU time (user + sys, wait4) of the child. `metrics`: `--metrics 127.0.0.1:0` and one scrape',
  '(checked); `before`: the same with the build of --before; `unscraped`: `--metrics` never scraped. A round in which a',
  'scrape missed its run (the run ended first) is run again. Differences: per round, then the median of rounds.',
  '',
];
if (wrong.length) {
  lines.push(`**No figures: ${wrong.length} runs were wrong** — ${[...new Set(wrong)].join('; ')}`);
} else {
  lines.push(`Load (1 min) during the rounds: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)}); rounds run again (a scrape missed): ${again}.`, '');
  lines.push('| mode | median CPU ms | minus off, median of rounds (ms) | ratio to off, median of rounds | differences to off, quartiles (ms) |', '|---|--:|--:|--:|---|');
  for (const m of MODES) {
    const d = rounds.map((x) => x[m].ms - x.off.ms).sort((a, b) => a - b);
    const q = (f) => d[Math.floor(f * (d.length - 1))].toFixed(1);
    lines.push(`| ${m} | ${median(rounds.map((x) => x[m].ms)).toFixed(1)} | ${m === 'off' ? '—' : median(d).toFixed(1)} | ${m === 'off' ? '—' : median(rounds.map((x) => x[m].ms / x.off.ms)).toFixed(3)} | ${m === 'off' ? '—' : `${q(0.25)} / ${q(0.5)} / ${q(0.75)}`} |`);
  }
  for (const [a, b] of [['metrics', 'before'], ['unscraped', 'before-unscraped']].filter(([a, b]) => MODES.includes(a) && MODES.includes(b))) {
    const d = rounds.map((x) => x[a].ms - x[b].ms);
    lines.push('', `A/B, ${a} (this build) minus ${b} (${BEFORE}), same round: median ${median(d).toFixed(1)} ms CPU over ${ROUNDS} rounds; ${d.filter((x) => x < 0).length} of ${ROUNDS} rounds lower.`);
  }
  lines.push('', 'Per round (CPU ms): ' + rounds.map((x, i) => `${i + 1}: ${MODES.map((m) => x[m].ms.toFixed(0)).join(' / ')}`).join('; ') + ` (${MODES.join(' / ')}).`);
}
const text = `${lines.join('\n')}\n`;
writeFileSync(resolve(ROOT, RESULTS), text);
process.stdout.write(text);
if (wrong.length) process.exit(1);
