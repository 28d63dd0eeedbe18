// One piece of what `--metrics` does, alone, preloaded (`node --import`) into a run without
// `--metrics`: bench/metrics-overhead.mjs's modes `part-<piece>` attribute the overhead piece by piece.
//   SLUICE_BENCH_PART=eld      Node's event-loop delay monitor, every SLUICE_BENCH_ELD_MS (100) ms
//   SLUICE_BENCH_PART=gc       prom-client's GC observer (nodejs_gc_duration_seconds) in a registry of its own
//   SLUICE_BENCH_PART=create   SluiceMetrics.create(): prom-client's modules, sluice's metrics and
//                              Node's default collectors (the two above included)
//   SLUICE_BENCH_PART=serve    create, then the /metrics server listening (never scraped)
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const DIST = new URL('../packages/cli/dist/metrics/', import.meta.url);
const part = process.env.SLUICE_BENCH_PART;
// Held here so that nothing is collected before the run ends.
globalThis.sluiceBenchPart = await (async () => {
  if (part === 'eld') {
    const monitor = monitorEventLoopDelay({ resolution: Number(process.env.SLUICE_BENCH_ELD_MS ?? 100) });
    monitor.enable();
    return monitor;
  }
  if (part === 'gc') {
    const require = createRequire(new URL('prom.js', DIST));
    const registry = new (require('prom-client/lib/registry'))();
    require('prom-client/lib/metrics/gc')(registry, {});
    return registry;
  }
  const { SluiceMetrics } = await import(new URL('registry.js', DIST).href);
  const metrics = await SluiceMetrics.create();
  if (part === 'create') return metrics;
  if (part === 'serve') {
    const { serveMetrics } = await import(new URL('server.js', DIST).href);
    return [metrics, await serveMetrics(metrics, { host: '127.0.0.1', port: 0 })];
  }
  throw new Error(`SLUICE_BENCH_PART must be eld, gc, create or serve (got '${part}')`);
})();
