import { createRequire } from 'node:module';
import type { Counter as CounterType, Registry as RegistryType } from 'prom-client';

/** The parts of prom-client sluice uses. */
export interface Prom {
  Registry: typeof import('prom-client').Registry;
  Counter: typeof import('prom-client').Counter;
  Gauge: typeof import('prom-client').Gauge;
}

/**
 * prom-client's own modules, without its index: that loads the Pushgateway client (https, hence
 * tls), the cluster aggregator, Summary (tdigest) and, for process_cpu_*, @opentelemetry/api —
 * about half the CPU time of `import('prom-client')`, paid by every `--metrics` run for code
 * sluice never calls (bench/results/metrics-overhead-instructions-*.md). The paths are those of
 * prom-client 15 (it declares no `exports`, so they are reachable); a moved file fails here, at
 * the first `--metrics`, and in registry.test.ts.
 */
export function loadProm(): Prom & { defaults: (register: RegistryType, eventLoopMonitoringPrecision: number) => void } {
  const require = createRequire(import.meta.url);
  const lib = (name: string): unknown => require(`prom-client/lib/${name}`);
  const prom: Prom = {
    Registry: lib('registry') as Prom['Registry'],
    Counter: lib('counter') as Prom['Counter'],
    Gauge: lib('gauge') as Prom['Gauge'],
  };
  type Collector = (register: RegistryType, config: { eventLoopMonitoringPrecision: number }) => void;
  // prom-client's collectDefaultMetrics, one module at a time, in its order; process_cpu_* is
  // processCpuTotal below.
  const modules = [
    'processStartTime',
    'osMemoryHeap',
    'processOpenFileDescriptors',
    'processMaxFileDescriptors',
    'eventLoopLag',
    ...(typeof process.getActiveResourcesInfo === 'function' ? ['processResources'] : []),
    'processHandles',
    'processRequests',
    'heapSizeAndUsed',
    'heapSpacesSizeAndUsed',
    'version',
    'gc',
  ];
  const defaults = (register: RegistryType, eventLoopMonitoringPrecision: number) => {
    processCpuTotal(prom, register);
    for (const name of modules) (lib(`metrics/${name}`) as Collector)(register, { eventLoopMonitoringPrecision });
  };
  return { ...prom, defaults };
}

/**
 * process_cpu_{user,system,}_seconds_total as prom-client names and explains them, read when
 * scraped; counted from the process' start (prom-client's count from when it was loaded).
 */
function processCpuTotal(prom: Prom, register: RegistryType): void {
  const counter = (name: string, help: string, read: (usage: NodeJS.CpuUsage) => number) =>
    new prom.Counter({
      name,
      help,
      registers: [register],
      collect(this: CounterType) {
        this.reset();
        this.inc(read(process.cpuUsage()) / 1e6);
      },
    });
  counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', (u) => u.user);
  counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', (u) => u.system);
  counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (u) => u.user + u.system);
}
