import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SluiceMetrics } from './registry.js';

const ROOT = join(import.meta.dirname, '../../../..');

/** The metrics of prom-client's own collectDefaultMetrics. */
async function defaultMetricNames(): Promise<string[]> {
  const prom = createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  const register = new prom.Registry();
  prom.collectDefaultMetrics({ register });
  return (await register.getMetricsAsJSON()).map((m) => m.name);
}

describe('SluiceMetrics', () => {
  // prom.ts loads prom-client's modules one by one: a module left out, or moved by an upgrade, is
  // a default metric /metrics no longer serves.
  it('serves every metric of prom-client\'s collectDefaultMetrics, process CPU counted from the process\' start', async () => {
    const before = process.cpuUsage();
    const metrics = await SluiceMetrics.create();
    const text = await metrics.text();
    const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    const defaults = await defaultMetricNames();
    expect(defaults.length).toBeGreaterThan(20);
    for (const name of defaults) expect(served, name).toContain(name);
    const cpu = Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1]);
    expect(cpu).toBeGreaterThanOrEqual((before.user + before.system) / 1e6);
    expect(text).not.toContain('sluice_worker_');
  });

  // The modules prom-client's index loads and sluice never calls cost about half of its import's
  // CPU time in every --metrics run (bench/results/metrics-overhead-instructions-*.md). A fresh
  // process, as `sluice run --metrics` has, from the build: what did opening the metrics load, and
  // from where? The build's bundle of prom-client's modules (prom.ts), and nothing else of it.
  it('opening the metrics loads prom-client\'s modules from the build\'s bundle, and neither its index, its Pushgateway (https) nor @opentelemetry/api', async () => {
    const defaults = await defaultMetricNames();
    const registry = join(ROOT, 'packages/cli/dist/metrics/registry.js');
    const prom = join(ROOT, 'packages/cli/dist/metrics/prom.js');
    const script = `
      import { createRequire } from 'node:module';
      const { loadProm, loadedPromModules } = await import(${JSON.stringify(prom)});
      const { SluiceMetrics } = await import(${JSON.stringify(registry)});
      const metrics = await SluiceMetrics.create();
      const text = await metrics.text();
      const require = createRequire(${JSON.stringify(registry)});
      console.log(JSON.stringify({ cjs: Object.keys(require.cache), https: process.moduleLoadList.some((m) => m === 'NativeModule https'), from: loadProm().from, modules: loadedPromModules(), text }));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { cjs: string[]; https: boolean; from: string; modules: string[]; text: string };
    expect(loaded.from).toBe('bundle');
    expect(loaded.modules).toEqual(expect.arrayContaining(['registry', 'counter', 'gauge', 'metrics/gc', 'metrics/version']));
    expect(loaded.modules.filter((m) => /^(index|pushgateway|cluster|summary|metrics\/processCpuTotal)$/.test(m))).toEqual([]);
    // The bundle, and no file of prom-client's lib/ besides: its modules ran from the bundle.
    expect(loaded.cjs.filter((path) => /\/dist\/metrics\/prom-client-[\d.]+\.cjs$/.test(path))).toHaveLength(1);
    expect(loaded.cjs.filter((path) => path.includes('/prom-client/lib/'))).toEqual([]);
    expect(loaded.cjs.filter((path) => /@opentelemetry|tdigest/.test(path))).toEqual([]);
    expect(loaded.https).toBe(false);
    // The bundle's modules serve what prom-client's files do (the first test: from the files).
    const served = new Set([...loaded.text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    expect(served.size).toBeGreaterThan(25);
    for (const name of defaults) expect(served, name).toContain(name);
  });

  // The bundle is made by the build from the installed prom-client: after an upgrade of it, or an
  // edit of the module list (prom-modules.ts), a stale bundle would serve old code or lack a module.
  it('the build\'s bundle of prom-client is what scripts/bundle-prom-client.mjs makes of the installed prom-client', () => {
    const version = (createRequire(import.meta.url)('prom-client/package.json') as { version: string }).version;
    expect(existsSync(join(ROOT, `packages/cli/dist/metrics/prom-client-${version}.cjs`)), 'the bundle of the installed version').toBe(true);
    // As plain node runs it (vitest would transform the script): --check compares what it would write with the file.
    const check = spawnSync(process.execPath, [join(ROOT, 'scripts/bundle-prom-client.mjs'), '--check'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
  });
});
