import type { Counter, Registry } from 'prom-client';
import type { Prom } from './prom.js';
import { PROM_COLLECTORS } from './prom-modules.js';

type Collector = (register: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

/**
 * The event-loop delay monitor wakes the process every this many ms: at prom-client's 10 ms that
 * alone cost ~4 ms of CPU per second of a run (+4.5 % on the 1M-record file benchmark); 100 ms
 * keeps the lag percentiles and wakes ten times less.
 */
const EVENT_LOOP_PRECISION_MS = 100;

/**
 * prom-client's collectDefaultMetrics, one collector module at a time and in its order, started
 * in two steps. The two that observe the process as it goes — the event-loop delay monitor and the
 * GC observer — start with the metrics; every other one reads its value when scraped, so it is
 * loaded and built at the first scrape: a run that is never scraped never pays for them
 * (bench/results/metrics-overhead-startup-*.md). process_cpu_* are sluice's own (processCpuTotal).
 */
export class ProcessMetrics {
  private readonly eventLoop: Registry;
  private readonly gc: Registry;
  private registries: Registry[] | undefined;

  constructor(private readonly prom: Prom) {
    this.eventLoop = this.collect(PROM_COLLECTORS.eventLoop);
    this.gc = this.collect(PROM_COLLECTORS.gc);
  }

  /** Node's default metrics, in collectDefaultMetrics' order (all of them from the first call on). */
  all(): Registry[] {
    this.registries ??= [
      this.collect(PROM_COLLECTORS.first, processCpuTotal),
      this.eventLoop,
      this.collect(PROM_COLLECTORS.later.filter((name) => name !== 'processResources' || typeof process.getActiveResourcesInfo === 'function')),
      this.gc,
    ];
    return this.registries;
  }

  private collect(modules: readonly string[], first?: (prom: Prom, register: Registry) => void): Registry {
    const register = new this.prom.Registry();
    first?.(this.prom, register);
    for (const name of modules) (this.prom.lib(`metrics/${name}`) as Collector)(register, { eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
    return register;
  }
}

/**
 * process_cpu_{user,system,}_seconds_total as prom-client names and explains them, read when
 * scraped; counted from the process' start (prom-client's count from when it was loaded).
 */
function processCpuTotal(prom: Prom, register: Registry): void {
  const counter = (name: string, help: string, read: (usage: NodeJS.CpuUsage) => number) =>
    new prom.Counter({
      name,
      help,
      registers: [register],
      collect(this: Counter) {
        this.reset();
        this.inc(read(process.cpuUsage()) / 1e6);
      },
    });
  counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', (u) => u.user);
  counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', (u) => u.system);
  counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (u) => u.user + u.system);
}
