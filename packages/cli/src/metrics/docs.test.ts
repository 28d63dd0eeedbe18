import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SluiceMetrics } from './registry.js';
import { WorkerFeed } from './worker-feed.js';

// The dashboard and docs/operating.md name the metrics the code registers: neither can drift.
const ROOT = join(import.meta.dirname, '../../../..');
const dashboard = readFileSync(join(ROOT, 'docs/grafana-dashboard.json'), 'utf8');
const operating = readFileSync(join(ROOT, 'docs/operating.md'), 'utf8');

async function registered(): Promise<string[]> {
  const metrics = await SluiceMetrics.create();
  metrics.addWorker(new WorkerFeed());
  return (await metrics.own.getMetricsAsJSON()).map((m) => m.name);
}

describe('metrics docs', () => {
  it('every sluice_ metric the dashboard queries is registered, and the dashboard is JSON Grafana imports', async () => {
    const names = new Set(await registered());
    const parsed = JSON.parse(dashboard) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const queried = new Set(parsed.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/sluice_\w+/g) ?? [])).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect(queried.size).toBeGreaterThan(10);
    for (const name of queried) expect(names, name).toContain(name);
  });

  it('docs/operating.md lists every registered metric', async () => {
    for (const name of await registered()) expect(operating, name).toContain(`\`${name}\``);
  });
});
