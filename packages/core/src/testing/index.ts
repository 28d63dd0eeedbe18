import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { systemClock, type Clock } from '../engine/clock.js';
import { RunConnections, type ConnectionConfig } from '../engine/connections.js';
import { StepThrottle } from '../engine/throttle.js';
import { FileLedger } from '../checkpoint/ledger.js';
import { compileExpression, compileTemplate } from '../expr/index.js';
import type { Logger } from '../events/logger.js';
import type {
  PluginContext,
  PluginKind,
  SinkDefinition,
  SluiceRecord,
  SourceDefinition,
  SourcePage,
  TransformDefinition,
  TransformResult,
} from '../plugin/types.js';

export interface TestContextOptions {
  /** Folder relative paths resolve from; a fresh temp folder by default. */
  dir?: string;
  jobName?: string;
  kind?: PluginKind;
  stepId?: string;
  concurrency?: number;
  clock?: Clock;
  state?: unknown;
  dryRun?: boolean;
  connections?: Record<string, ConnectionConfig>;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  secrets?: string[];
  checkpoint?: { store: string; connection?: string };
  timeoutMs?: number;
  retryOn?: Array<string | number>;
  /** The step's rate limit, for `ctx.throttle`. */
  rate?: { perSecond: number };
}

/** A logger that keeps what it was told, for assertions. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  debug(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'debug', message, fields }); }
  info(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'info', message, fields }); }
  warn(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'warn', message, fields }); }
  error(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'error', message, fields }); }
}

/** A real plugin context over a temp folder, for a plugin's own tests. */
export function createTestContext(options: TestContextOptions = {}): PluginContext & { logger: MemoryLogger } {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const jobName = options.jobName ?? 'test';
  const scope = { env: options.env ?? {}, job: { name: jobName } };
  const secrets = options.secrets ?? [];
  return {
    job: { name: jobName, dir, fingerprint: 'test', runId: 'test-run', dryRun: options.dryRun ?? false, checkpoint: options.checkpoint ?? { store: 'none' } },
    step: {
      id: options.stepId ?? 'step',
      kind: options.kind ?? 'transform',
      concurrency: options.concurrency ?? 1,
      timeoutMs: options.timeoutMs ?? 30_000,
      ...(options.retryOn ? { retryOn: options.retryOn } : {}),
    },
    logger: new MemoryLogger(),
    clock: options.clock ?? systemClock,
    connections: new RunConnections(options.connections ?? {}),
    signal: options.signal ?? new AbortController().signal,
    resolvePath: (path: string) => (isAbsolute(path) ? path : resolve(dir, path)),
    expression: (source: string) => compileExpression(source, scope),
    template: (source: string) => compileTemplate(source, scope),
    state: options.state,
    redact: (text: string) => secrets.reduce((t, s) => (s ? t.split(s).join('***') : t), text),
    ledger: (name: string) => FileLedger.open(join(dir, '.sluice', `${jobName}.${name}.ledger`)),
    throttle: new StepThrottle(options.clock ?? systemClock, options.rate),
  };
}

const flatten = (result: TransformResult): SluiceRecord[] =>
  result == null ? [] : Array.isArray(result) ? result : [result];

/** Runs a transform plugin over records, one after the other, and returns what it emitted. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function runTransform(
  plugin: TransformDefinition<any>,
  config: unknown,
  records: SluiceRecord[],
  options: TestContextOptions = {},
): Promise<SluiceRecord[]> {
  const ctx = createTestContext({ ...options, kind: 'transform' });
  const instance = await plugin.create(config as never, ctx);
  const out: SluiceRecord[] = [];
  try {
    for (const [index, record] of records.entries()) {
      out.push(...flatten(await instance.process(record, { position: { index }, attempt: 1, signal: ctx.signal })));
    }
  } finally {
    await instance.close?.();
  }
  return out;
}

/** Reads every page of a source plugin from `cursor` (the start by default). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function collectSource(
  plugin: SourceDefinition<any>,
  config: unknown,
  options: TestContextOptions & { cursor?: unknown; batchSize?: number } = {},
): Promise<SourcePage[]> {
  const ctx = createTestContext({ ...options, kind: 'source' });
  const instance = await plugin.create(config as never, ctx);
  const pages: SourcePage[] = [];
  try {
    for await (const page of instance.read({ cursor: options.cursor, batchSize: options.batchSize ?? 1000, signal: ctx.signal })) {
      pages.push(page);
    }
  } finally {
    await instance.close?.();
  }
  return pages;
}

/** Writes batches through a sink plugin, flushing and closing it; returns the last state it reported. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function writeSink(
  plugin: SinkDefinition<any>,
  config: unknown,
  batches: SluiceRecord[][],
  options: TestContextOptions = {},
): Promise<{ state: unknown }> {
  const ctx = createTestContext({ ...options, kind: 'sink' });
  const instance = await plugin.create(config as never, ctx);
  let state: unknown = options.state;
  try {
    for (const [seq, records] of batches.entries()) {
      await instance.write(records, { seq, positions: records.map((_, index) => ({ index })), attempt: 1, signal: ctx.signal });
      state = instance.state?.();
    }
    await instance.flush?.();
  } finally {
    await instance.close?.();
  }
  return { state };
}
