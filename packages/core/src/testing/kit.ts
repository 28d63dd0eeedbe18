// The plugin test kit: a context, and a plugin run on its own (a transform over records, a source
// read to the end, a sink written), without the engine. Its own module, apart from the crash tests
// (index.ts): `@sluice/core` re-exports these, and every plugin import of it would otherwise load
// the crash-test machinery (child processes, journals, read-back) at each start-up.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { systemClock, type Clock } from '../engine/clock.js';
import { RunConnections, type ConnectionConfig } from '../engine/connections.js';
import { StepThrottle } from '../engine/throttle.js';
import { FileLedger } from '../checkpoint/ledger.js';
import { compileExpression, compileTemplate, type TemplateOptions } from '../expr/index.js';
import type { Logger } from '../events/logger.js';
import { Redactor } from '../events/redact.js';
import { checkConfigAgainst } from '../plugin/config.js';
import { defineSink } from '../plugin/define.js';
import type {
  PluginContext,
  RetryNotice,
  PluginKind,
  RuleViolation,
  SinkDefinition,
  SinkInstance,
  SluiceRecord,
  SourceInstance,
  SourcePage,
  TransformInstance,
  TransformResult,
  WriteInfo,
} from '../plugin/types.js';

/** What {@link createTestContext} and the run helpers let a test set; everything has a default. */
export interface TestContextOptions {
  /** Folder relative paths resolve from; a fresh temp folder by default. */
  dir?: string;
  /** `ctx.job.name` (default `test`). */
  jobName?: string;
  /** `ctx.step.kind`; the run helpers set it. */
  kind?: PluginKind;
  /** `ctx.step.id` (default `step`). */
  stepId?: string;
  /** `ctx.step.concurrency` (default 1). */
  concurrency?: number;
  /** A fixed or manual clock (default the system clock). */
  clock?: Clock;
  /** `ctx.state`: a sink's state from the last checkpoint, to test a resume. */
  state?: unknown;
  /** `ctx.job.dryRun`. */
  dryRun?: boolean;
  /** The job's `connections:`. */
  connections?: Record<string, ConnectionConfig>;
  /** `env` as expressions and templates see it. */
  env?: Record<string, string | undefined>;
  /** The run's abort signal. */
  signal?: AbortSignal;
  /** Values `ctx.redact` replaces with `***`. */
  secrets?: string[];
  /** `ctx.job.checkpoint` (default `{ store: 'none' }`). */
  checkpoint?: { store: string; connection?: string };
  /** `ctx.step.timeoutMs` (default 30000). */
  timeoutMs?: number;
  /** `ctx.step.retryOn`. */
  retryOn?: Array<string | number>;
  /** The step's rate limit, for `ctx.throttle`. */
  rate?: { perSecond: number };
  /**
   * The run helpers check `config` against the plugin's schema first, as `sluice validate` would,
   * and throw on a problem. Set false to hand a plugin a config no job could have.
   */
  validate?: boolean;
}

/** A logger that keeps what it was told, for assertions. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  debug(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'debug', message, fields }); }
  info(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'info', message, fields }); }
  warn(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'warn', message, fields }); }
  error(message: string, fields?: Record<string, unknown>) { this.lines.push({ level: 'error', message, fields }); }
}

/**
 * A real plugin context over a temp folder, for a plugin's own tests: expressions and templates
 * compile, `ctx.ledger` is a file ledger, `ctx.logger` keeps its lines (`ctx.logger.lines`) and
 * `ctx.retries` the retries the plugin counted with `ctx.countRetry`.
 */
export function createTestContext(options: TestContextOptions = {}): PluginContext & { logger: MemoryLogger; retries: RetryNotice[] } {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sluice-test-'));
  const jobName = options.jobName ?? 'test';
  const scope = { env: options.env ?? {}, job: { name: jobName } };
  const secrets = options.secrets ?? [];
  const retries: RetryNotice[] = [];
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
    template: (source: string, options?: TemplateOptions) => compileTemplate(source, scope, options),
    state: options.state,
    redact: new Redactor(secrets).redact,
    ledger: (name: string) => FileLedger.open(join(dir, '.sluice', `${jobName}.${name}.ledger`)),
    throttle: new StepThrottle(options.clock ?? systemClock, options.rate),
    retries,
    countRetry: (retry: RetryNotice) => void retries.push(retry),
  };
}

/**
 * The parts of a plugin the helpers use. Any `define*` result fits without the compiler
 * expanding its config type (checking it against `SourceDefinition<any>` can hit TS2589).
 */
interface PluginUnderTest<K extends PluginKind = PluginKind, I = unknown> {
  readonly kind: K;
  readonly name: string;
  readonly schema: unknown;
  readonly rules?: ReadonlyArray<(config: never) => RuleViolation | RuleViolation[] | undefined>;
  create(config: never, ctx: PluginContext): I | Promise<I>;
}

/** One problem {@link checkConfig} found in a plugin's `with`. */
export interface ConfigProblem {
  /** Where in `with`, dotted (`csv.columns`); empty for the whole config. */
  readonly path: string;
  readonly message: string;
}

/**
 * Checks a config against a plugin's schema and then its rules (unless `rules: false`), as
 * `sluice validate` does for a step's `with`: expressions and templates are parsed, never run.
 * Returns the problems; an empty list means valid.
 */
export function checkConfig(plugin: PluginUnderTest, config: unknown, options: { rules?: boolean } = {}): ConfigProblem[] {
  const checked = checkConfigAgainst(plugin.schema as object, config);
  const dotted = (pointer: string) => pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).join('.');
  const join = (a: string, b: string) => (a && b ? `${a}.${b}` : a || b);
  if (!checked.valid) {
    return checked.errors
      .filter((e) => e.keyword !== 'if' && e.keyword !== 'anyOf' && e.keyword !== 'oneOf')
      .map((e) => {
        const path = dotted(e.instancePath);
        const params = e.params as Record<string, unknown>;
        if (e.keyword === 'additionalProperties') return { path: join(path, String(params.additionalProperty)), message: `unknown key '${String(params.additionalProperty)}'` };
        if (e.keyword === 'required') return { path, message: `missing required key '${String(params.missingProperty)}'` };
        if (e.keyword === 'enum') return { path, message: `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}` };
        return { path, message: e.message ?? 'is invalid' };
      });
  }
  const problems: ConfigProblem[] = [];
  if (options.rules === false) return problems;
  for (const rule of plugin.rules ?? []) {
    let found: ReturnType<typeof rule>;
    try {
      found = rule(config as never);
    } catch (error) {
      found = { message: `rule failed: ${(error as Error).message}` };
    }
    for (const v of found === undefined ? [] : Array.isArray(found) ? found : [found]) problems.push({ path: v.path ?? '', message: v.message });
  }
  return problems;
}

/** The config as the engine would hand it to `create`: checked against the schema, defaults filled in. */
function assertConfig(plugin: PluginUnderTest, config: unknown, options: TestContextOptions): unknown {
  if (options.validate !== false) {
    // The schema only: a plugin's own `create` checks may be what a test is after.
    const problems = checkConfig(plugin, config, { rules: false });
    if (problems.length) {
      throw new Error(
        `invalid config for ${plugin.kind} '${plugin.name}': ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')}`,
      );
    }
  }
  return checkConfigAgainst(plugin.schema as object, config).config;
}

/** What {@link captureSink} collected. */
export interface CapturedSink {
  /** A sink plugin that keeps every batch written to it, in order, in memory. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly plugin: SinkDefinition<any>;
  /** The batches written, in the order the engine wrote them. */
  readonly batches: SluiceRecord[][];
  /** Every record written, in order. */
  readonly records: SluiceRecord[];
  /** The `info` of each write (seq, positions, attempt, and `part` for a part of a halved batch). */
  readonly writes: Array<Omit<WriteInfo, 'signal'>>;
}

/**
 * An in-memory sink that collects what a job or a test writes to it: put `captured.plugin` where
 * a real sink would go and read `captured.records` afterwards. Its `with` is ignored.
 */
export function captureSink(name = 'capture'): CapturedSink {
  const batches: SluiceRecord[][] = [];
  const writes: Array<Omit<WriteInfo, 'signal'>> = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const plugin = defineSink<any>({
    name,
    description: 'Keeps the records written to it in memory (tests).',
    schema: { type: 'object' } as const,
    create() {
      return {
        async write(records: SluiceRecord[], info: WriteInfo) {
          batches.push(records.map((r) => structuredClone(r)));
          writes.push({ seq: info.seq, positions: info.positions, attempt: info.attempt, ...(info.part ? { part: info.part } : {}) });
        },
        state: () => ({ batches: batches.length }),
      };
    },
  });
  return {
    plugin,
    batches,
    writes,
    get records() {
      return batches.flat();
    },
  };
}

const flatten = (result: TransformResult): SluiceRecord[] =>
  result == null ? [] : Array.isArray(result) ? result : [result];

/**
 * Runs a transform plugin over records, one after the other, and returns what it emitted (a
 * dropped record emits nothing). `config` is checked against the plugin's schema first
 * (`checkConfig` also runs the plugin's rules).
 */
export async function runTransform(
  plugin: PluginUnderTest<'transform', TransformInstance>,
  config: unknown,
  records: SluiceRecord[],
  options: TestContextOptions = {},
): Promise<SluiceRecord[]> {
  const withDefaults = assertConfig(plugin, config, options);
  const ctx = createTestContext({ ...options, kind: 'transform' });
  const instance = await plugin.create(withDefaults as never, ctx);
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

/**
 * Reads every page of a source plugin from `cursor` (the start by default); the records are
 * `pages.flatMap((p) => p.records)`. `config` is checked against the plugin's schema first.
 */
export async function collectSource(
  plugin: PluginUnderTest<'source', SourceInstance>,
  config: unknown,
  options: TestContextOptions & { cursor?: unknown; batchSize?: number } = {},
): Promise<SourcePage[]> {
  const withDefaults = assertConfig(plugin, config, options);
  const ctx = createTestContext({ ...options, kind: 'source' });
  const instance = await plugin.create(withDefaults as never, ctx);
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

/**
 * Writes batches through a sink plugin, then flushes and closes it; returns the last state it
 * reported (pass it as `options.state` to test a resume). `config` is checked first.
 */
export async function writeSink(
  plugin: PluginUnderTest<'sink', SinkInstance>,
  config: unknown,
  batches: SluiceRecord[][],
  options: TestContextOptions = {},
): Promise<{ state: unknown }> {
  const withDefaults = assertConfig(plugin, config, options);
  const ctx = createTestContext({ ...options, kind: 'sink' });
  const instance = await plugin.create(withDefaults as never, ctx);
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
