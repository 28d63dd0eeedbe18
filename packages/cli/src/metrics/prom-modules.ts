/**
 * The modules of prom-client's `lib/` that sluice loads (prom-client 15's paths): its registry and
 * metric types, and the collectors of its `collectDefaultMetrics` but processCpuTotal (sluice
 * counts process CPU itself: process-metrics.ts). One list for prom.ts, process-metrics.ts and the
 * build's bundle of them (scripts/bundle-prom-client.mjs).
 */
export const PROM_TYPES = ['registry', 'counter', 'gauge'] as const;

/** The default collectors, in collectDefaultMetrics' order; processResources only where Node has getActiveResourcesInfo. */
export const PROM_COLLECTORS = {
  /** Read when scraped: built at the first scrape, after processCpuTotal's place. */
  first: ['processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors'],
  /** Observe the process as it goes: started with the metrics. */
  eventLoop: ['eventLoopLag'],
  later: ['processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version'],
  gc: ['gc'],
} as const;

/** Every module, as `lib/<name>` names it. */
export const PROM_MODULES: readonly string[] = [...PROM_TYPES, ...Object.values(PROM_COLLECTORS).flat().map((name) => `metrics/${name}`)];
