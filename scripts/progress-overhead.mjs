// What the progress screen costs: the same 1M-record job with `--progress none` and `--progress tui`,
// both in a real terminal (tmux), alternating, several times each.
// Usage: node scripts/progress-overhead.mjs [RUNS=7] [RECORDS=1000000] [MODE=tui]   (Linux, tmux; build first)
// Wall-clock throughput is noisy on a shared machine, so it also reports the CPU time of the main
// thread (where records and the screen both run), which other load disturbs much less.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'packages/cli/dist/bin.js');
const runs = Number(process.argv[2] ?? 7);
const records = Number(process.argv[3] ?? 1_000_000);
/** The mode to compare with `none` (tui by default; plain and json work too). */
const other = process.argv[4] ?? 'tui';
const dir = mkdtempSync(join(tmpdir(), 'sluice-overhead-'));

// Records of about 120 bytes; half pass the filter.
let chunk = '';
const lines = [];
for (let id = 1; id <= records; id++) {
  chunk += `{"id":${id},"name":"user ${id}","email":"user${id}@mail.com","amount":${(id * 7919) % 10000 / 100},"city":"Lisbon"}\n`;
  if (chunk.length > 1 << 20) {
    lines.push(chunk);
    chunk = '';
  }
}
lines.push(chunk);
writeFileSync(join(dir, 'input.jsonl'), lines.join(''));
writeFileSync(
  join(dir, 'job.yaml'),
  `version: 1
name: overhead
source:
  use: file
  with: { path: input.jsonl }
steps:
  - id: big
    use: filter
    with: { where: record.amount > 50 }
  - id: shout
    use: map
    with:
      set:
        name: record.name.toUpperCase()
sink:
  use: file
  with: { path: out/result.jsonl }
`,
);

const env = { ...process.env, LANG: 'C.UTF-8', TERM: 'xterm-256color' };
for (const key of ['CI', 'CONTINUOUS_INTEGRATION', 'TMUX', 'NODE_ENV']) delete env[key];
// A server per run (its own socket): a server shutting down never meets the next run's.
let socket = join(dir, 'tmux.sock');
const tmux = (...args) => {
  const result = spawnSync('tmux', ['-u', '-S', socket, '-f', '/dev/null', ...args], { env, encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0 && args[0] !== 'kill-server') throw new Error(`tmux ${args[0]}: ${result.stderr}`);
  return result;
};

/** CPU seconds the process's main thread (where records and the screen both run) has used. */
function mainThreadCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

async function once(mode, i) {
  const tag = `${mode}-${i}`;
  socket = join(dir, `${tag}.sock`);
  // node is the pane's own process, so its pid is the pane's; --verbose makes the screen say how long it spent drawing.
  tmux('new-session', '-d', '-s', tag, '-x', '100', '-y', '40', '-c', dir, 'node', BIN, 'run', 'job.yaml', '--fresh', '--progress', mode, '--verbose', '--report', `${tag}.json`);
  tmux('set-option', '-t', tag, 'remain-on-exit', 'on');
  const pid = Number(tmux('display-message', '-p', '-t', tag, '#{pane_pid}').stdout.trim());
  let cpu = 0;
  const deadline = Date.now() + 300_000;
  for (;;) {
    cpu = mainThreadCpu(pid) ?? cpu;
    if (tmux('display-message', '-p', '-t', tag, '#{pane_dead}').stdout.trim() === '1') break;
    if (Date.now() > deadline) throw new Error(`${tag} did not finish in 5 minutes`);
    await sleep(50);
  }
  const screen = tmux('capture-pane', '-p', '-S', '-100', '-t', tag).stdout;
  tmux('kill-server');
  const drawing = /screen: (\d+) repaints; snapshots (\d+)ms .*, drawing (\d+)ms in its own thread/.exec(screen);
  const report = JSON.parse(readFileSync(join(dir, `${tag}.json`), 'utf8'));
  return { durationMs: report.durationMs, rate: report.throughput.recordsPerSecond, cpu, ...(drawing ? { repaints: Number(drawing[1]), mainMs: Number(drawing[2]), drawingMs: Number(drawing[3]) } : {}) };
}

const results = { none: [], [other]: [] };
try {
  for (let i = 0; i < runs; i++) {
    for (const mode of i % 2 ? [other, 'none'] : ['none', other]) {
      const r = await once(mode, i);
      results[mode].push(r);
      const drew = r.repaints !== undefined ? `, ${r.repaints} repaints: ${r.mainMs} ms on the main thread (${((r.mainMs / r.durationMs) * 100).toFixed(2)}%), ${r.drawingMs} ms drawing in the worker` : '';
      console.log(`${mode.padEnd(4)} run ${i + 1}: ${r.durationMs} ms, ${Math.round(r.rate).toLocaleString('en-US')} records/s, main thread ${r.cpu.toFixed(2)} s cpu${drew}`);
    }
  }
} finally {
  tmux('kill-server');
  rmSync(dir, { recursive: true, force: true });
}
// Each round runs both modes back to back, so they see about the same background load: the median
// of the rounds' ratios is steadier than the ratio of medians on a shared machine.
const ratios = results.none.map((n, i) => results[other][i].rate / n.rate);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const best = (xs) => Math.max(...xs);
const sum = (mode, pick) => ({ median: median(results[mode].map(pick)), best: best(results[mode].map(pick)) });
const none = sum('none', (r) => r.rate);
const tui = sum(other, (r) => r.rate);
const cpuNone = median(results.none.map((r) => r.cpu));
const cpuTui = median(results[other].map((r) => r.cpu));
console.log(`\nthroughput, median: none ${Math.round(none.median)}/s, ${other} ${Math.round(tui.median)}/s, ${other}/none ${(tui.median / none.median).toFixed(3)}`);
console.log(`throughput, paired: median of ${other}/none per round ${median(ratios).toFixed(3)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(' ')})`);
console.log(`throughput, best:   none ${Math.round(none.best)}/s, ${other} ${Math.round(tui.best)}/s, ${other}/none ${(tui.best / none.best).toFixed(3)}`);
const shares = results[other].filter((r) => r.repaints !== undefined).map((r) => r.mainMs / r.durationMs);
if (shares.length) console.log(`screen on the main thread, median: ${(median(shares) * 100).toFixed(2)}% of the run's time (max ${(Math.max(...shares) * 100).toFixed(2)}%)`);
console.log(`main thread cpu, median: none ${cpuNone.toFixed(2)} s, ${other} ${cpuTui.toFixed(2)} s, ${other}/none ${(cpuTui / cpuNone).toFixed(3)}`);
