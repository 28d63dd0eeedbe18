// What `--metrics` (and traces) cost the file benchmark: `node bench/metrics-overhead.mjs [--records N] [--rounds R] [--modes off,metrics,…] [--out FILE]`.
//
// The file benchmark's job (bench/run.mjs: JSON Lines → filter → map → JSON Lines, 1000-record batches)
// runs as a child `sluice run` in each mode below, all started at once in each round (in an order
// that rotates from round to round) so that they share whatever else loads the machine (runs one
// after another differed by ±20 % under a load of 20):
//   off, off-2  no flags, no OTEL_* variables (twice: off-2 against off is the method's own noise);
//   metrics     --metrics 127.0.0.1:0, scraped every 15 s (Prometheus' usual interval) by this script;
//   metrics-1s  the same, scraped every second (a worst case: each scrape collects Node's process metrics);
//   traces      OTEL_EXPORTER_OTLP_ENDPOINT at a local collector stand-in that keeps every span;
//   unscraped   --metrics 127.0.0.1:0, never scraped (a run shorter than Prometheus' interval);
//   push        --metrics-push to a local stand-in (which takes anything), no --metrics;
//   before, before-<mode>
//               metrics (or <mode>) with the CLI of `--before DIR`, a built checkout of an earlier
//               commit: the same round's <mode> against it is an A/B pair;
//   part-eld, part-gc, part-create, part-serve
//               no flags, one piece of what --metrics does preloaded (bench/metrics-overhead-part.mjs).
// `--sequential`: the modes of a round run one at a time instead (rotating order), for a quiet machine: runs
// started together share two cores and each other's GC threads, which adds noise of its own; the report then
// gives each mode's median difference to `off` in ms of CPU, user and sys apart, with quartiles, and the wall ratio.
// Each run's CPU time (user + sys of the child, from wait4's rusage in µs: /usr/bin/time prints
// only hundredths, too coarse for the fixed cost of a small run) is the figure; wall time is only recorded. Every
// output must hold exactly the records the generator predicts (count, first and last line, SHA-256)
// before a figure is printed. Ratios are medians of per-round ratios against `off`; the 1-minute load
// average is recorded with each round. Writes bench/results/metrics-overhead.md.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRecords, outputProblems, SLUICE_STEPS } from './generate.mjs';
import { sluiceCommand } from './sql-lib.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = join(ROOT, 'bench/.data');
const CLI = join(ROOT, 'packages/cli/dist/bin.js');
const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const RECORDS = Number(option('--records', 500_000));
const ROUNDS = Number(option('--rounds', 8));
const RESULTS = option('--out', 'bench/results/metrics-overhead.md');
const SEQUENTIAL = argv.includes('--sequential');
const MODES = option('--modes', 'off,off-2,metrics,metrics-1s,traces').split(',');
if (MODES[0] !== 'off') throw new Error('--modes must start with off (the ratios are against it)');
const SCRAPE_MS = { metrics: 15_000, 'metrics-1s': 1000 };
/** A mode's build (`before-…` or `before`: the --before checkout) and what it runs. */
const kindOf = (mode) => (mode === 'before' ? 'metrics' : mode.replace(/^before-/, ''));
const beforeOf = (mode) => (mode === 'metrics' && MODES.includes('before') ? 'before' : `before-${mode}`);
const BEFORE = option('--before', undefined);
if (MODES.some((m) => m.startsWith('before')) && !BEFORE) throw new Error('mode before needs --before DIR (a built checkout of the commit to compare with)');
const PART = join(ROOT, 'bench/metrics-overhead-part.mjs');

mkdirSync(join(DATA, 'out'), { recursive: true });
const data = ensureRecords(DATA, RECORDS).meta;

const jobOf = (mode) => join(DATA, `metrics-overhead-${RECORDS}-${mode}.yaml`);
const outputOf = (mode) => join(DATA, `out/metrics-overhead-${mode}.jsonl`);
for (const mode of MODES) writeFileSync(
  jobOf(mode),
  `version: 1
name: metrics-overhead-${mode}
batch: { size: 1000, inFlight: 4 }
checkpoint: { store: none }
source: { use: file, with: { path: records-${RECORDS}.jsonl, format: jsonl } }
${SLUICE_STEPS}sink: { use: file, with: { path: out/metrics-overhead-${mode}.jsonl, format: jsonl } }
`,
);

// A collector (and Pushgateway) stand-in: counts the spans and the pushes it is sent.
let spans = 0;
let pushes = 0;
const collector = createServer((req, res) => {
  if (req.method === 'PUT') pushes++;
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    spans += (body.match(/"spanId"/g) ?? []).length;
    res.end('{}');
  });
});
await new Promise((resolve) => collector.listen(0, '127.0.0.1', resolve));
const collectorUrl = `http://127.0.0.1:${collector.address().port}`;

// The child's CPU time: wait4's rusage (µs), and its wall time; the child's exit code is ours.
const CPU_TIME = `
import os, sys, time
start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], 'w') as out:
    out.write(f'{usage.ru_utime} {usage.ru_stime} {time.monotonic() - start}')
sys.exit(os.waitstatus_to_exitcode(status))
`;

function load() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}


async function runOnce(mode) {
  rmSync(outputOf(mode), { force: true });
  const timeFile = join(DATA, `.time-${process.pid}-${mode}`);
  const kind = kindOf(mode);
  const bin = kind === mode ? CLI : join(BEFORE, 'packages/cli/dist/bin.js');
  const part = kind.startsWith('part-') ? kind.slice('part-'.length) : undefined;
  const args = ['-c', CPU_TIME, timeFile, ...sluiceCommand(['run', jobOf(mode), '--fresh', '--progress', 'none'], { bin, nodeFlags: part ? ['--import', PART] : [] }).flat()];
  if (SCRAPE_MS[kind] || kind === 'unscraped') args.push('--metrics', '127.0.0.1:0');
  if (kind === 'push') args.push('--metrics-push', collectorUrl);
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('OTEL_') || key.startsWith('SLUICE_BENCH_')) delete env[key];
  if (part) env.SLUICE_BENCH_PART = part;
  if (kind === 'traces') env.OTEL_EXPORTER_OTLP_ENDPOINT = collectorUrl;
  const spansBefore = spans;
  const child = spawn('python3', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  let scrapes = 0;
  let scraper;
  child.stderr.on('data', (d) => {
    stderr += d;
    const url = /metrics at (\S+)/.exec(stderr)?.[1];
    if (url && !scraper && SCRAPE_MS[kind]) {
      const scrape = () => fetch(url).then((r) => r.text()).then(() => scrapes++, () => {});
      void scrape();
      scraper = setInterval(scrape, SCRAPE_MS[kind]);
    }
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  clearInterval(scraper);
  if (code !== 0) throw new Error(`${mode}: exit ${code}\n${stderr}`);
  const [user, sys, wall] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  const problems = outputProblems(outputOf(mode), data.expected);
  if (SCRAPE_MS[kind] && scrapes === 0) problems.push('never scraped');
  if (kind === 'traces' && spans - spansBefore < RECORDS / 1000) problems.push(`only ${spans - spansBefore} spans exported`);
  return { mode, cpu: user + sys, user, sys, wall, scrapes, spans: spans - spansBefore, problems };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const rounds = [];
for (let r = 0; r < ROUNDS; r++) {
  const before = load();
  // Started in a rotating order: none is always the first or the last to start.
  const order = MODES.map((_, i) => MODES[(i + r) % MODES.length]);
  const runs = [];
  if (SEQUENTIAL) for (const mode of order) runs.push(await runOnce(mode));
  else runs.push(...(await Promise.all(order.map((mode) => runOnce(mode)))));
  const round = Object.fromEntries(runs.map((x) => [x.mode, x]));
  round.load = (before + load()) / 2;
  rounds.push(round);
  process.stderr.write(`round ${r + 1}/${ROUNDS} (load ${round.load.toFixed(1)}): ${MODES.map((m) => `${m} ${round[m].cpu.toFixed(3)}s`).join(', ')}\n`);
}
collector.close();

const wrong = rounds.flatMap((round) => MODES.flatMap((m) => round[m].problems.map((p) => `${m}: ${p}`)));
const pushed = ROUNDS * MODES.filter((m) => kindOf(m) === 'push').length;
if (pushes !== pushed) wrong.push(`${pushes} pushes received, ${pushed} expected`);
const lines = [
  '# --metrics and traces: overhead on the file benchmark',
  '',
  `Generated by \`node bench/metrics-overhead.mjs --records ${RECORDS} --rounds ${ROUNDS} --modes ${MODES.join(',')}${SEQUENTIAL ? ' --sequential' : ''}${BEFORE ? ` --before ${BEFORE}` : ''}\` on ${new Date().toISOString().slice(0, 16)}Z.`,
  `The file benchmark's job over ${RECORDS.toLocaleString('en')} records (JSON Lines → filter → map → JSON Lines), one child \`sluice run\` per run,`,
  SEQUENTIAL
    ? `the modes (${MODES.join(', ')}) run one at a time in each round, in an order that rotates from round to round. Figure: CPU time (user + sys)`
    : `the modes (${MODES.join(', ')}) started together in each round, so they share the machine's other load. Figure: CPU time (user + sys)`,
  'of the child; ratio: median of the per-round ratios against `off`. `off-2` is `off` again: its ratio is the method\'s own',
  'noise. `metrics`: `--metrics 127.0.0.1:0` scraped every 15 s (first scrape at once); `metrics-1s`: scraped every',
  'second, a worst case; `traces`: OTLP/HTTP export of every run,',
  'batch, step and sink-write span to a local collector stand-in. Every output verified (count, first and last line,',
  'SHA-256) before a figure is given.',
  '',
];
if (wrong.length) {
  lines.push(`**No figures: ${wrong.length} runs were wrong** — ${[...new Set(wrong)].join('; ')}`);
} else {
  const loads = rounds.map((round) => round.load);
  lines.push(`Load (1 min) during the rounds: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} (${rounds.map((x) => x.load.toFixed(1)).join(', ')}).`, '');
  // With two runs of `off` per round, their mean is the reference: one control run's own noise
  // (off-2 against off) was ±3 % per round.
  const controls = MODES.filter((m) => m === 'off' || m === 'off-2');
  const reference = (round) => controls.reduce((sum, m) => sum + round[m].cpu, 0) / controls.length;
  const pct = (x) => `${((x - 1) * 100).toFixed(1)} %`;
  lines.push(`| mode | median CPU s | median wall s | CPU vs off (median of rounds) | CPU vs mean of ${controls.join(' and ')} | per-round ratios to that mean, sorted |`, '|---|---|---|---|---|---|');
  for (const m of MODES) {
    const ratios = rounds.map((round) => round[m].cpu / round.off.cpu);
    const toRef = rounds.map((round) => round[m].cpu / reference(round)).sort((a, b) => a - b);
    const control = controls.includes(m);
    lines.push(
      `| ${m} | ${median(rounds.map((x) => x[m].cpu)).toFixed(3)} | ${median(rounds.map((x) => x[m].wall)).toFixed(2)} | ${m === 'off' ? '—' : pct(median(ratios))} | ${control ? '—' : pct(median(toRef))} | ${control ? '—' : toRef.map((x) => x.toFixed(3)).join(' ')} |`,
    );
  }
  if (SEQUENTIAL) {
    // Differences in ms, user and sys apart: the 1M run's noise is ±40 ms, so quartiles say how far a median can be trusted.
    const quartiles = (xs) => {
      const q = [...xs].sort((a, b) => a - b);
      const at = (f) => q[Math.min(q.length - 1, Math.floor(f * (q.length - 1) + 0.5))];
      return `${at(0.25).toFixed(1)} / ${at(0.75).toFixed(1)}`;
    };
    lines.push('', '| mode | CPU − off, median ms (quartiles) | user − off, median ms (quartiles) | sys − off, median ms | rounds above off | wall vs off (median of rounds) |', '|---|--:|--:|--:|--:|--:|');
    for (const m of MODES.filter((x) => x !== 'off')) {
      const d = (key) => rounds.map((round) => (round[m][key] - round.off[key]) * 1000);
      lines.push(
        `| ${m} | ${median(d('cpu')).toFixed(1)} (${quartiles(d('cpu'))}) | ${median(d('user')).toFixed(1)} (${quartiles(d('user'))}) | ${median(d('sys')).toFixed(1)} | ${d('cpu').filter((x) => x > 0).length} of ${ROUNDS} | ${pct(median(rounds.map((round) => round[m].wall / round.off.wall)))} |`,
      );
    }
  }
  lines.push('', 'Per round (CPU s): ' + rounds.map((round, i) => `${i + 1}: ${MODES.map((m) => round[m].cpu.toFixed(3)).join(' / ')}`).join('; ') + ` (${MODES.join(' / ')}).`);
  for (const m of MODES.filter((x) => kindOf(x) === x && MODES.includes(beforeOf(x)))) {
    const b = beforeOf(m);
    const ab = rounds.map((round) => round[m].cpu / round[b].cpu).sort((x, y) => x - y);
    const ms = rounds.map((round) => (round[m].cpu - round[b].cpu) * 1000);
    lines.push('', `A/B, ${m} (this build) against ${b} (${BEFORE}), same round: median ratio ${ab.length ? pct(median(ab)) : '—'}, median difference ${median(ms).toFixed(1)} ms CPU; ratios sorted: ${ab.map((x) => x.toFixed(3)).join(' ')}.`);
  }
  for (const m of MODES.filter((x) => SCRAPE_MS[kindOf(x)])) lines.push(`Scrapes per ${m} run: ${rounds.map((x) => x[m].scrapes).join(', ')}.`);
  if (MODES.includes('traces')) lines.push(`Spans per traced run: ${rounds.map((x) => x.traces.spans).join(', ')}.`);
}
const text = `${lines.join('\n')}\n`;
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(resolve(ROOT, RESULTS), text);
process.stdout.write(text);
if (wrong.length) process.exit(1);
