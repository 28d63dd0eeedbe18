// What one GC costs a process that observes GC entries (prom-client's `gc` collector, which `--metrics`
// starts for nodejs_gc_duration_seconds): `node bench/metrics-overhead-gc-entry.mjs [--rounds R] [--gcs N]`.
//
// Each round runs two children one after the other, in alternating order: both force N minor GCs
// (`--expose-gc`, an event-loop turn every 10, as a pipeline's batches give), one with a
// PerformanceObserver on 'gc' whose callback only reads the entries. The difference of their CPU
// time over N is the cost per GC entry: Node makes an entry object per GC and calls into JS with it
// (on Node 20 each entry also gets two deprecated getters, DEP0152). Prints the per-round figures
// and their median; writes nothing.
import { spawnSync } from 'node:child_process';

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const ROUNDS = option('--rounds', 10);
const GCS = option('--gcs', 2000);

const CHILD = `
import { PerformanceObserver } from 'node:perf_hooks';
let entries = 0;
if (process.argv[1] === 'observed') new PerformanceObserver((list) => { entries += list.getEntries().length; }).observe({ entryTypes: ['gc'] });
const start = process.cpuUsage();
for (let i = 0; i < ${GCS}; i++) {
  globalThis.gc({ type: 'minor' });
  if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
}
await new Promise((resolve) => setImmediate(resolve));
const used = process.cpuUsage(start);
console.log(JSON.stringify({ us: used.user + used.system, entries }));
`;

const run = (mode) => {
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, mode], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`${mode}: exit ${child.status}\n${child.stderr}`);
  return JSON.parse(child.stdout);
};

const perEntry = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? ['observed', 'plain'] : ['plain', 'observed'];
  const result = Object.fromEntries(order.map((mode) => [mode, run(mode)]));
  if (result.observed.entries < GCS) throw new Error(`observed ${result.observed.entries} GC entries for ${GCS} GCs`);
  perEntry.push((result.observed.us - result.plain.us) / result.observed.entries);
  console.log(`round ${r + 1}: plain ${(result.plain.us / 1000).toFixed(1)} ms, observed ${(result.observed.us / 1000).toFixed(1)} ms (${result.observed.entries} entries): ${perEntry.at(-1).toFixed(1)} µs per entry`);
}
const sorted = [...perEntry].sort((a, b) => a - b);
console.log(`node ${process.version}: ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} µs of CPU per observed GC entry (median of ${ROUNDS} rounds; range ${sorted[0].toFixed(1)}–${sorted.at(-1).toFixed(1)})`);
