import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJobText } from '../job/load.js';
import { defineSink, defineSource } from '../plugin/define.js';
import { PluginRegistry } from '../plugin/registry.js';
import type { PluginContext } from '../plugin/types.js';
import { planPartitions } from './partitions.js';

/** What the test source saw: its context, how it was asked to split, whether it was closed. */
interface Seen {
  ctx?: PluginContext;
  asked: number[];
  closed: number;
}

/** `slices`: splits into `{ from, to }` ranges of `size` records (at most n), or as `split` says. */
// `unknown`: checking a define* result against AnyPluginDefinition can hit TS2589.
function slicesSource(seen: Seen, split?: (n: number) => Promise<unknown[]>): unknown {
  return defineSource({
    name: 'slices',
    description: 'test source',
    schema: { type: 'object', properties: { size: { type: 'number' } } },
    create: (config, ctx) => {
      seen.ctx = ctx;
      const size = (config as { size?: number }).size ?? 100;
      return {
        async *read() {},
        partitions:
          split ??
          (async (n: number) => {
            seen.asked.push(n);
            const per = Math.ceil(size / n);
            return Array.from({ length: Math.ceil(size / per) }, (_, i) => ({ from: i * per, to: Math.min(size, (i + 1) * per) }));
          }),
        close: () => {
          seen.closed++;
        },
      };
    },
  });
}

const plainSource = (seen: Seen): unknown =>
  defineSource({
    name: 'plain',
    description: 'a source that cannot split',
    schema: { type: 'object' },
    create: (_config, ctx) => {
      seen.ctx = ctx;
      return { async *read() {}, close: () => void seen.closed++ };
    },
  });

const nullSink = defineSink({ name: 'nothing', description: 'test sink', schema: { type: 'object' }, create: () => ({ async write() {} }) });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-partitions-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function planOf(plugins: unknown[], source: string) {
  const registry = new PluginRegistry();
  for (const plugin of [...plugins, nullSink]) expect(registry.add(plugin, 'test')).toEqual([]);
  const text = `version: 1\nname: parts\nsource: ${source}\nsink: { use: nothing }\ndeadLetter: { use: nothing }\n`;
  const { plan, diagnostics } = await loadJobText(text, { registry, dir, env: { TOKEN: 'tok-secret' } });
  if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
  return plan;
}

describe('planPartitions', () => {
  it('asks the source for n slices with a run-like context and closes it', async () => {
    const seen: Seen = { asked: [], closed: 0 };
    const plan = await planOf([slicesSource(seen)], '{ use: slices, with: { size: 100 } }');
    const planned = await planPartitions(plan, 4);
    expect(planned).toEqual({
      specs: [
        { from: 0, to: 25 },
        { from: 25, to: 50 },
        { from: 50, to: 75 },
        { from: 75, to: 100 },
      ],
      unsplittable: false,
    });
    expect(seen.asked).toEqual([4]);
    expect(seen.closed).toBe(1);
    expect(seen.ctx?.job).toMatchObject({ name: 'parts', dir, fingerprint: plan.fingerprint, dryRun: false });
    expect(seen.ctx?.job.partition).toBeUndefined();
    expect(seen.ctx?.step).toMatchObject({ id: 'source', kind: 'source' });
    expect(seen.ctx?.resolvePath('data/x.csv')).toBe(join(dir, 'data/x.csv'));
    await expect(seen.ctx!.ledger('sent')).rejects.toThrow(/no ledger/);
  });

  it.each([
    { label: 'no partitions method', n: 4, source: 'plain', unsplittable: true },
    { label: 'one slice back for 4', n: 4, source: 'slices', size: 1, unsplittable: true },
    { label: 'one partition asked', n: 1, source: 'slices', size: 100, unsplittable: false },
  ])('$label: one partition (unsplittable: $unsplittable)', async ({ n, source, size, unsplittable }) => {
    const seen: Seen = { asked: [], closed: 0 };
    const plugin = source === 'plain' ? plainSource(seen) : slicesSource(seen);
    const plan = await planOf([plugin], `{ use: ${source}${size ? `, with: { size: ${size} }` : ''} }`);
    const planned = await planPartitions(plan, n);
    expect(planned.specs).toHaveLength(1);
    expect(planned.unsplittable).toBe(unsplittable);
    // One partition asked for: the source is not asked to split at all.
    if (n === 1) expect(seen.asked).toEqual([]);
    expect(seen.closed).toBe(1);
  });

  it('a source that fails to split: a clear error naming the step, secrets redacted, the source closed', async () => {
    const seen: Seen = { asked: [], closed: 0 };
    const plan = await planOf(
      [slicesSource(seen, async () => Promise.reject(new Error('cannot list tok-secret files')))],
      '{ use: slices, with: { size: 1, token: "${env:TOKEN}" } }',
    );
    await expect(planPartitions(plan, 3)).rejects.toThrow("source 'source' (slices) could not be split: cannot list *** files");
    expect(seen.closed).toBe(1);
  });

  it('refuses slices that are more than asked for or not JSON', async () => {
    const seen: Seen = { asked: [], closed: 0 };
    const tooMany = await planOf([slicesSource(seen, async () => [1, 2, 3])], '{ use: slices }');
    await expect(planPartitions(tooMany, 2)).rejects.toThrow(/returned 3 slices/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const notJson = await planOf([slicesSource(seen, async () => [cyclic, {}])], '{ use: slices }');
    await expect(planPartitions(notJson, 2)).rejects.toThrow(/not JSON-serialisable/);
  });
});
