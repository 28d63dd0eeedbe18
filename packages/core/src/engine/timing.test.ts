import { describe, expect, it } from 'vitest';
import type { BatchTiming } from '../events/types.js';
import { EventBus } from '../events/bus.js';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource, defineTransform } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { SluiceRecord } from '../plugin/types.js';
import { JobRun } from './run.js';

// The bus's timing channel (metrics, traces): one timing per batch and step, one per committed batch.

function registry(count: number): PluginRegistry {
  const r = new PluginRegistry();
  r.add(
    defineSource({
      name: 'list',
      description: 'records 0…count-1',
      schema: { type: 'object' },
      create: () => ({
        async *read({ batchSize }) {
          for (let at = 0; at < count; at += batchSize) {
            const records: SluiceRecord[] = [];
            for (let id = at; id < Math.min(count, at + batchSize); id++) records.push({ id });
            yield { records, cursor: at + records.length };
          }
        },
      }),
    }),
    'test',
  );
  r.add(defineTransform({ name: 'evens', description: 'drops odd ids', schema: { type: 'object' }, create: () => ({ process: (record) => ((record.id as number) % 2 === 0 ? record : null) }) }), 'test');
  r.add(defineSink({ name: 'keep', description: 'keeps nothing', schema: { type: 'object' }, create: () => ({ async write() {} }) }), 'test');
  return r;
}

async function runWith(bus: EventBus) {
  const text = `
version: 1
name: timed
batch: { size: 10 }
checkpoint: { store: none }
source: { use: list }
steps:
  - { id: evens, use: evens }
sinks:
  - { id: out, use: keep }
deadLetter: { use: keep }
`;
  const { plan, diagnostics } = await loadJobText(text, { registry: registry(35), dir: '.', env: {} });
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return new JobRun(plan, { bus }).run();
}

describe('batch timings', () => {
  it('a listener gets each batch through each step and each commit, with the records that entered', async () => {
    const bus = new EventBus();
    const timings: BatchTiming[] = [];
    bus.onTiming((t) => timings.push(t));
    const summary = await runWith(bus);
    expect(summary.status).toBe('done');
    const of = (step: string | undefined) => timings.filter((t) => t.step === step).map((t) => [t.seq, t.records]);
    expect(of('evens')).toEqual([[0, 10], [1, 10], [2, 10], [3, 5]]);
    // The sink gets what the transform let through.
    expect(of('out').sort()).toEqual([[0, 5], [1, 5], [2, 5], [3, 3]]);
    expect(of(undefined)).toEqual([[0, 5], [1, 5], [2, 5], [3, 3]]);
    for (const t of timings) expect(t.ms).toBeGreaterThanOrEqual(0);
    expect(timings.some((t) => t.error)).toBe(false);
  });

  it('without a listener the bus says so, and the run is the same', async () => {
    const bus = new EventBus();
    expect(bus.timed).toBe(false);
    const stop = bus.onTiming(() => undefined);
    expect(bus.timed).toBe(true);
    stop();
    expect(bus.timed).toBe(false);
    expect((await runWith(bus)).counters.written).toBe(18);
  });
});
