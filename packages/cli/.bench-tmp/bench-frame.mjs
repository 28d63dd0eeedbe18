import { EventEmitter } from 'node:events';
const mode = process.argv[2];
const React = await import('react');
const { render } = await import('ink');
const { ProgressApp } = await import('/work/main/packages/cli/dist/ui/app.js');
class Out extends EventEmitter { columns = 100; rows = 40; isTTY = true; bytes = 0; write(s) { this.bytes += s.length; return true; } }
class In extends EventEmitter { isTTY = true; setEncoding() {} setRawMode() {} ref() {} unref() {} read() { return null; } }
const step = (id, kind, use, n) => ({ id, kind, use, in: n, out: n, filtered: 0, failed: 0, retries: 0, retrying: 0, active: 0, rate: 1234, p95Ms: 1.2 });
const view = (i) => ({ job: 'bench', source: 'file orders.jsonl', phase: 'running', elapsedMs: i * 100, counters: { read: i * 1000, produced: 0, written: i * 500, filtered: i * 500, deadLettered: 0, skipped: 0, retries: 0 },
  steps: [step('source', 'source', 'file', i * 1000), step('big', 'transform', 'filter', i * 1000), step('shout', 'transform', 'map', i * 500), step('sink', 'sink', 'file', i * 500)],
  rate: 250000 + i, total: { done: i * 100000, total: 1e8, unit: 'bytes', fraction: i / 1000 }, etaMs: 5000, checkpoint: { seq: i, cursor: 'file=0 name=orders.jsonl offset=' + i * 1000, ageMs: 20, read: i * 1000 },
  checkpointLabel: 'x', checkpointing: true, errors: [], notices: [], batchesInFlight: 4, resumed: false, dryRun: false });
const out = new Out();
const el = (i) => React.createElement(ProgressApp, { view: view(i), onStop() {}, onInterrupt() {}, columns: 100, rows: 40 });
const inst = render(el(0), { stdout: out, stdin: new In(), exitOnCtrlC: false, patchConsole: false, maxFps: 0 });
const N = Number(process.env.N ?? 500);
for (let i = 1; i < 50; i++) inst.rerender(el(i));
const t = performance.now(); const c = process.cpuUsage();
for (let i = 50; i < 50 + N; i++) inst.rerender(el(i));
const cpu = process.cpuUsage(c);
console.log(mode, 'per frame ms', ((performance.now() - t) / N).toFixed(2), 'cpu per frame ms', ((cpu.user + cpu.system) / 1000 / N).toFixed(2), 'bytes/frame', Math.round(out.bytes / (N + 50)));
inst.unmount();
process.exit(0);
