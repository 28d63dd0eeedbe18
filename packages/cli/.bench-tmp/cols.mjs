import { EventEmitter } from 'node:events';
const React = await import('react');
const { render } = await import('ink');
const { ProgressScreen } = await import('/work/main/packages/cli/dist/ui/screen.js');
const cols = Number(process.argv[2]);
class Out extends EventEmitter { columns = cols; rows = 40; isTTY = true; write() { return true; } }
class In extends EventEmitter { isTTY = false; setEncoding() {} read() { return null; } ref() {} unref() {} }
const step = (id, kind, use, n) => ({ id, kind, use, in: n, out: n, filtered: 0, failed: 0, retries: 0, retrying: 0, active: 0, rate: 1234, p95Ms: 1.2 });
const view = (i) => ({ job: 'bench', source: 'file orders.jsonl', phase: 'running', elapsedMs: i * 100, counters: { read: i * 1000, produced: 0, written: i * 500, filtered: i * 500, deadLettered: 0, skipped: 0, retries: 0 },
  steps: [step('source', 'source', 'file', i * 1000), step('big', 'transform', 'filter', i * 1000), step('shout', 'transform', 'map', i * 500), step('sink', 'sink', 'file', i * 500)],
  rate: 250000 + i, total: { done: i * 100000, total: 1e8, unit: 'bytes', fraction: i / 1000 }, etaMs: 5000, checkpoint: { seq: i, cursor: 'file=0 name=orders.jsonl offset=' + i * 1000, ageMs: 20, read: i * 1000 },
  checkpointLabel: 'x', checkpointing: true, errors: [{atMs: 1000, step: 'big', kind: 'retry', text: 'attempt 2 in 100ms (orders.jsonl:12): upstream busy'}], notices: [], batchesInFlight: 4, resumed: false, dryRun: false });
const el = (i) => React.createElement(ProgressScreen, { view: view(i), columns: cols, rows: 40, keys: true });
const inst = render(el(0), { stdout: new Out(), stdin: new In(), exitOnCtrlC: false, patchConsole: false, maxFps: 30, incrementalRendering: process.argv[3] === 'inc' });
for (let i = 1; i <= 30; i++) { await new Promise((r) => setTimeout(r, 40)); inst.rerender(el(i)); }
let cpu = 0; const N = Number(process.env.N ?? 60);
for (let i = 31; i <= 30 + N; i++) { await new Promise((r) => setTimeout(r, 40)); const c = process.cpuUsage(); inst.rerender(el(i)); const u = process.cpuUsage(c); cpu += u.user + u.system; }
console.log('cols', cols, process.argv[3] ?? '', 'cpu per frame ms', (cpu / N / 1000).toFixed(2));
inst.unmount(); process.exit(0);
