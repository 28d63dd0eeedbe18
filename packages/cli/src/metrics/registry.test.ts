import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SluiceMetrics } from './registry.js';

const ROOT = join(import.meta.dirname, '../../../..');

describe('SluiceMetrics', () => {
  // prom.ts loads prom-client's modules one by one: a module left out, or moved by an upgrade, is
  // a default metric /metrics no longer serves.
  it('serves every metric of prom-client\'s collectDefaultMetrics, process CPU counted from the process\' start', async () => {
    const before = process.cpuUsage();
    const metrics = await SluiceMetrics.create();
    const text = await metrics.text();
    const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const prom = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
    const register = new prom.Registry();
    prom.collectDefaultMetrics({ register });
    const defaults = (await register.getMetricsAsJSON()).map((m) => m.name);
    expect(defaults.length).toBeGreaterThan(20);
    for (const name of defaults) expect(served, name).toContain(name);
    const cpu = Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]);
    expect(cpu).toBeGreaterThanOrEqual((before.user + before.system) / 1e6);
    expect(text).not.toContain('sluice_worker_');
  });

  // The modules prom-client's index loads and sluice never calls cost about half of its import's
  // CPU time in every --metrics run (bench/results/metrics-overhead-instructions-*.md). A fresh
  // process, as `sluice run --metrics` has: what did opening the metrics load?
  it('opening the metrics loads neither prom-client\'s index, its Pushgateway (https) nor @opentelemetry/api', () => {
    const registry = join(ROOT, 'packages/cli/dist/metrics/registry.js');
    const script = `
      import { createRequire } from 'node:module';
      const { SluiceMetrics } = await import(${JSON.stringify(registry)});
      const metrics = await SluiceMetrics.create();
      await metrics.text();
      const require = createRequire(${JSON.stringify(registry)});
      console.log(JSON.stringify({ cjs: Object.keys(require.cache), https: process.moduleLoadList.some((m) => m === 'NativeModule https') }));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { cjs: string[]; https: boolean };
    expect(loaded.cjs.some((path) => path.includes('/prom-client/lib/registry.js')), 'prom-client loaded at all').toBe(true);
    expect(loaded.cjs.filter((path) => /\/prom-client\/index\.js$|\/prom-client\/lib\/(pushgateway|cluster|summary)\.js$|@opentelemetry|tdigest/.test(path))).toEqual([]);
    expect(loaded.https).toBe(false);
  });
});
