import { createRequire } from 'node:module';

/** The parts of prom-client sluice uses. */
export interface Prom {
  Registry: typeof import('prom-client').Registry;
  Counter: typeof import('prom-client').Counter;
  Gauge: typeof import('prom-client').Gauge;
  /** A module of prom-client's `lib/` (a default collector: `metrics/gc`). */
  lib(name: string): unknown;
}

/**
 * prom-client's own modules, without its index: that loads the Pushgateway client (https, hence
 * tls), the cluster aggregator, Summary (tdigest) and, for process_cpu_*, @opentelemetry/api —
 * about half the CPU time of `import('prom-client')`, paid by every `--metrics` run for code
 * sluice never calls (bench/results/metrics-overhead-instructions-*.md). The paths are those of
 * prom-client 15 (it declares no `exports`, so they are reachable); a moved file fails here, at
 * the first `--metrics`, and in registry.test.ts.
 */
export function loadProm(): Prom {
  const require = createRequire(import.meta.url);
  const lib = (name: string): unknown => require(`prom-client/lib/${name}`);
  return {
    Registry: lib('registry') as Prom['Registry'],
    Counter: lib('counter') as Prom['Counter'],
    Gauge: lib('gauge') as Prom['Gauge'],
    lib,
  };
}
