// Asks each sink's plugin what it durably holds (`readBack`) and what it promises (`guarantee`),
// with a plugin context over the job's folder and connections, closed again afterwards.
import type { ConnectionConfig, RunConnections } from '../engine/connections.js';
import { withDefaults } from '../plugin/config.js';
import type { JobInfo, SinkDefinition, SinkGuarantee, SluiceRecord } from '../plugin/types.js';
import { CrashTestError, type SinkHolding } from './crash-harness.js';
import { createTestContext } from './kit.js';

/** A sink of the job: its id, plugin and `with` as the run saw it. */
export interface SinkUnderTest {
  readonly id: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly plugin: SinkDefinition<any>;
  readonly config: unknown;
}

export interface ReadBackJob {
  readonly name: string;
  readonly dir: string;
  readonly checkpoint: { readonly store: string; readonly connection?: string };
  readonly connections: Readonly<Record<string, ConnectionConfig>>;
  readonly env?: Record<string, string | undefined>;
}

/** The guarantee a sink declares for this config and job, if any. */
export function guaranteeOf(sink: SinkUnderTest, job: JobInfo): SinkGuarantee | undefined {
  const g = sink.plugin.guarantee;
  return typeof g === 'function' ? g(sink.config as never, job) : g;
}

/**
 * What every sink holds; a sink whose plugin has no `readBack` holds `undefined` (not checked).
 * Each plugin gets its config with the schema's defaults filled in, as `create` does.
 */
export async function readBackSinks(sinks: readonly SinkUnderTest[], job: ReadBackJob): Promise<SinkHolding[]> {
  const out: SinkHolding[] = [];
  for (const given of sinks) {
    const sink = { ...given, config: withDefaults(given.plugin.schema as object, given.config) };
    const ctx = createTestContext({
      dir: job.dir,
      jobName: job.name,
      kind: 'sink',
      stepId: sink.id,
      checkpoint: job.checkpoint,
      connections: { ...job.connections },
      ...(job.env ? { env: job.env } : {}),
    });
    const guarantee = guaranteeOf(sink, ctx.job);
    const base = { sink: sink.id, ...(guarantee ? { guarantee } : {}), ordered: sink.plugin.ordered === true };
    if (!sink.plugin.readBack) {
      out.push(base);
      continue;
    }
    try {
      const records: SluiceRecord[] = [];
      const listed = await sink.plugin.readBack(sink.config as never, ctx);
      if (Symbol.asyncIterator in listed) for await (const r of listed as AsyncIterable<SluiceRecord>) records.push(r);
      else records.push(...(listed as Iterable<SluiceRecord>));
      out.push({ ...base, records });
    } catch (error) {
      throw new CrashTestError(`sink '${sink.id}': reading back what it holds failed: ${(error as Error).message}`, { cause: error });
    } finally {
      await (ctx.connections as RunConnections).closeAll();
    }
  }
  return out;
}
