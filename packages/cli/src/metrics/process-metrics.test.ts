import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../../..');
const REGISTRY = join(ROOT, 'packages/cli/dist/metrics/registry.js');
const PROM = join(ROOT, 'packages/cli/dist/metrics/prom.js');

/**
 * A fresh process, as `sluice run --metrics` has: opens the metrics (`options`), runs `before`
 * (GC forced, the event loop blocked) and then reports which of prom-client's collector modules
 * are loaded, before and after one scrape, and the scrape's text.
 */
function inFreshProcess(options: string, before: string): { opened: string[]; scraped: string[]; text: string } {
  const script = `
    const { loadedPromModules } = await import(${JSON.stringify(PROM)});
    const collectors = () => loadedPromModules().filter((m) => m.startsWith('metrics/')).map((m) => m.slice('metrics/'.length));
    const { SluiceMetrics } = await import(${JSON.stringify(REGISTRY)});
    const metrics = await SluiceMetrics.create(${options});
    ${before}
    const opened = collectors();
    const text = await metrics.text();
    console.log(JSON.stringify({ opened, scraped: collectors(), text }));`;
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' })) as { opened: string[]; scraped: string[]; text: string };
}

const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);

describe('ProcessMetrics', () => {
  // Only the two collectors that watch the process as it goes start with the metrics; the others
  // read their value when scraped, so a run never scraped never loads them.
  it('starts only the event-loop monitor and the GC observer until the first scrape, then serves every default metric', () => {
    const { opened, scraped, text } = inFreshProcess('', '');
    expect(opened).toEqual(['eventLoopLag', 'gc']);
    expect(scraped).toEqual(expect.arrayContaining(['eventLoopLag', 'gc', 'heapSpacesSizeAndUsed', 'osMemoryHeap', 'processStartTime', 'version']));
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^nodejs_version_info\{/m);
  });

  // What the early start is for: what happened before the first scrape is in it.
  it('counts the GCs and event-loop delays from the opening, not from the first scrape', () => {
    const before = `
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 250));
      const until = Date.now() + 400;
      while (Date.now() < until);
      // The monitor's next tick after the block is what records it.
      await new Promise((resolve) => setTimeout(resolve, 150));`;
    const { text } = inFreshProcess('', before);
    expect(value(text, 'nodejs_gc_duration_seconds_count{kind="major"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0.2);
  });

  // A push sends sluice's metrics only: without /metrics, nothing of Node's defaults is built.
  it('with processMetrics: false loads no default collector, even when the text is read', () => {
    const { opened, scraped, text } = inFreshProcess('{ processMetrics: false }', '');
    expect(opened).toEqual([]);
    expect(scraped).toEqual([]);
    expect(text).toContain('# TYPE sluice_records_read_total counter');
    expect(text).not.toContain('process_');
    expect(text).not.toContain('nodejs_');
  });
});
