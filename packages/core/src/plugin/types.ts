import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { Clock } from '../engine/clock.js';
import type { Logger } from '../events/logger.js';
import type { ConnectionRegistry } from '../engine/connections.js';
import type { CompiledExpression, CompiledTemplate, TemplateOptions } from '../expr/index.js';
import type { Ledger } from '../checkpoint/ledger.js';

// In a module of their own so that expr/ can name a record without importing this file, which imports expr/.
export type { PositionList, RecordPosition, SluiceRecord } from './record.js';
import type { PositionList, RecordPosition, SluiceRecord } from './record.js';

/** What a plugin is: a `source` reads records, a `transform` changes them, a `sink` writes them. */
export type PluginKind = 'source' | 'transform' | 'sink';

/** A JSON Schema for a plugin's `with`; plain JSON Schema, validated by ajv. */
export type PluginSchema = JSONSchema & object;

/**
 * The config type a plugin's `create` receives, inferred from its schema. An option with a
 * `default` is always there: the loader fills defaults in as it validates `with`.
 */
export type ConfigOf<S> = S extends JSONSchema ? FromSchema<S> : Record<string, unknown>;

/** The config as the user wrote it, before defaults: what a plugin's `rules` check. */
export type WrittenConfigOf<S> = S extends JSONSchema ? FromSchema<S, { keepDefaultedPropertiesOptional: true }> : Record<string, unknown>;

/** Job facts a plugin may read. */
export interface JobInfo {
  /** The job's `name`. */
  readonly name: string;
  /** The folder of the job file: relative paths in `with` resolve from here. */
  readonly dir: string;
  /** Fingerprint of source, steps and sinks; names the checkpoint. */
  readonly fingerprint: string;
  /** Unique per process run. */
  readonly runId: string;
  /** True for `sluice run --dry-run`: sinks must not write anything. */
  readonly dryRun: boolean;
  /**
   * Where the job's checkpoints live. A sink on the same connection as a `sql` store can commit
   * its data and its progress in one transaction.
   */
  readonly checkpoint: { readonly store: string; readonly connection?: string };
  /**
   * Set when this run is one partition of a distributed run (`sluice run --workers`). Partitions
   * run at once on different workers: anything a sink keys by job (markers, output files) must
   * also be keyed by `index`.
   */
  readonly partition?: { readonly index: number; readonly count: number };
}

/** Everything a plugin gets from the engine; the clock, logger and connections are the run's, resolved from its container. */
export interface PluginContext {
  readonly job: JobInfo;
  /** The step this plugin instance serves. */
  readonly step: {
    readonly id: string;
    readonly kind: PluginKind;
    readonly concurrency: number;
    /** The step's `retry.on` list, for plugins that classify their errors (http: 429, 5xx, timeout, network). */
    readonly retryOn?: ReadonlyArray<string | number>;
    /** The step's per-attempt timeout in milliseconds. */
    readonly timeoutMs: number;
    /** The step's retry policy, for plugins that retry calls inside one attempt (sinks sending per record). */
    readonly retry?: {
      readonly attempts: number;
      readonly initialDelayMs: number;
      readonly maxDelayMs: number;
      readonly multiplier: number;
      readonly jitter: boolean;
    };
  };
  readonly logger: Logger;
  readonly clock: Clock;
  readonly connections: ConnectionRegistry;
  /** Aborted when the run stops (signal, error budget, failure). */
  readonly signal: AbortSignal;
  /** Resolves a path from the job file's folder. */
  resolvePath(path: string): string;
  /** Compiles an expression already checked at validation (`record`, `env`, `job` in scope). */
  expression(source: string): CompiledExpression;
  /** Compiles a `{{ expr }}` template; `options` change how values become text (strict, lists, escaping). */
  template(source: string, options?: TemplateOptions): CompiledTemplate;
  /**
   * Sinks: the state this sink returned for the last checkpointed batch, or undefined on a
   * fresh start. A file sink truncates to the size it saved here. Sources: the cursor the run
   * resumes from (the one `read` gets), so `create` can refuse it with a `StartupRefusal`.
   */
  readonly state: unknown;
  /** Replaces secret values (from `${env:}`/`${file:}`) with `***`. */
  redact(text: string): string;
  /**
   * The job's durable ledger `name` in its checkpoint store, shared by the run (e.g. the keys an
   * email sink has sent). It survives `--fresh`; `--fresh --resend` clears it. Rejects when the
   * job's checkpoint store keeps no ledgers (`store: none`).
   */
  ledger(name: string): Promise<Ledger>;
  /**
   * The step's shared gate: `take()` waits for the step's `rateLimit` token and any pause;
   * `pauseFor(ms)` pauses every call of the step (e.g. after a Retry-After). The engine already
   * takes a token before each transform attempt; sinks that make several calls per batch take
   * one per call themselves. `take()` resolves with the clock time the slot was granted at.
   */
  readonly throttle: { take(signal?: AbortSignal): Promise<number>; pauseFor(ms: number): void };
  /**
   * Counts a retry this plugin makes itself — a page fetched again, a message resent inside one
   * write — on the step's `retries`, in the job's totals, the summary, the progress screen, the
   * JSON events (a `retry` event) and the report. Retries the engine makes (a transform's record,
   * a sink's batch) are counted already: call this only for the ones inside your own loop, once
   * per retry, before waiting `delayMs`. `attempt` is the attempt about to be made (2 for the first
   * retry); the error's message is redacted like every other.
   */
  countRetry(retry: RetryNotice): void;
}

/** A retry a plugin made itself, for `PluginContext.countRetry`. */
export interface RetryNotice {
  /** The attempt about to be made: 2 for the first retry. */
  readonly attempt: number;
  /** How long the plugin waits before it. */
  readonly delayMs: number;
  /** What failed. */
  readonly error?: unknown;
  /** Where, when the retry concerns one record. */
  readonly position?: RecordPosition;
}

// ---------- sources ----------

/** What the engine passes to `SourceInstance.read`. */
export interface ReadOptions {
  /** The cursor of the last checkpointed page, or undefined to start at the beginning. */
  readonly cursor: unknown;
  /** At most this many records per page. */
  readonly batchSize: number;
  readonly signal: AbortSignal;
  /**
   * The slice of the source this run reads: one of the values `partitions()` returned, or
   * undefined for the whole source. Cursors are per partition.
   */
  readonly partition?: unknown;
  /**
   * Raw pages, opt in: the formats (`'csv'`) in which the engine would take pages whose records
   * are not made (`SourcePage.raw`). Set only when the run only moves the source's rows 1:1 into
   * one sink that declares the format (no transform steps, one sink, no `--limit`, not a replay or
   * job test, not `--dry-run`); unset otherwise, and a source then yields records as always.
   */
  readonly raw?: readonly string[];
  /**
   * With `raw`: the sink takes raw pages with `RawPage.cast` (its `raw.cast`). Unset, a source whose
   * reader makes more than text of the fields (the file source's `csv: { cast: true }`) yields
   * records, not raw pages the sink would only decline.
   */
  readonly rawCast?: boolean;
}

/**
 * A page whose records are not made: `count` whole rows of `format` in `bytes`, for a sink that
 * hands the bytes to a database to parse (`SinkInstance.raw`). See `SourcePage.raw`.
 */
export interface RawPage {
  readonly format: 'csv';
  /** `count` whole rows, each ending in `\n` (no `\r`), no header row, UTF-8. */
  readonly bytes: Buffer;
  readonly count: number;
  /** The column of each field, in the rows' order (the header's names, as they are: one may be empty or named twice). */
  readonly columns: readonly string[];
  /** One ASCII byte. */
  readonly delimiter: string;
  /** One ASCII byte; the bytes hold no quote byte unless the source checked the database reads its quoting as the source would. */
  readonly quote: string;
  /**
   * How the source's reader makes a field's value from its text (`quoted`: the field was in
   * quotes), when it makes more than text (the file source's `csv: { cast: true }`: numbers,
   * booleans, null); absent, every field's value is its text. A sink that writes the bytes as text
   * (a database parsing them) must decline a page with `cast` unless it reads fields exactly so.
   */
  readonly cast?: (text: string, quoted: boolean) => unknown;
  /**
   * The page the source would have yielded without `raw`, made from the same bytes: records,
   * positions (line numbers, byte offsets) and record errors. The engine calls it when the sink
   * does not take the raw page or its raw write fails; the cursor and progress stay the raw page's.
   */
  materialize(): SourcePage | Promise<SourcePage>;
}

/** A record the source could not turn into a record (malformed line, bad CSV row). */
export interface SourceRecordError {
  readonly error: Error;
  /** The raw text, trimmed to a readable length by the engine. */
  readonly raw?: string;
  readonly position?: RecordPosition;
}

/** One page of a source: at most `batchSize` records, and the cursor to resume right after it. */
export interface SourcePage {
  /** At most `batchSize` records. */
  readonly records: SluiceRecord[];
  /** Resuming from this cursor continues right after this page. Must be JSON-serialisable. */
  readonly cursor: unknown;
  /**
   * `positions.at(i)` says where `records[i]` came from: an array of positions, or a
   * {@link PositionList} that makes each one only when asked (no object per record on the way).
   */
  readonly positions?: PositionList;
  /** Records of this page that could not be parsed; they follow the source's `onError`. */
  readonly errors?: SourceRecordError[];
  /** Progress in the source's own unit (bytes, rows), matching `estimate().total`. */
  readonly progress?: number;
  /**
   * Set only when `ReadOptions.raw` asked for this format: the page's rows as bytes, and `records`
   * is empty. A source yields it only for a slice it checked the database parses exactly as its own
   * reader would (see docs/plugins.md, "Raw pages"); anything unusual is a page of records.
   */
  readonly raw?: RawPage;
}

/** How much a source will read, for the progress screen's total and ETA. */
export interface SourceEstimate {
  /** Total in `unit`; progress is reported in the same unit. */
  readonly total: number;
  readonly unit: 'records' | 'bytes';
}

/** What a source plugin's `create` returns. */
export interface SourceInstance {
  /**
   * Yields pages from `cursor` (undefined: from the start) until the source is read to its end.
   * Stop early when `signal` aborts; the engine saves the cursor of the last page every sink finished.
   */
  read(options: ReadOptions): AsyncIterable<SourcePage>;
  /**
   * The total this source will read, for the progress screen. Called once, with the same
   * `partition` that `read` gets (undefined for the whole source), before or while reading.
   */
  estimate?(partition?: unknown): Promise<SourceEstimate | undefined>;
  /**
   * Splits the source into at most `n` JSON-serialisable slices that together read every record
   * exactly once (files by file or byte range, tables by key range). Sources that cannot split
   * leave this out and run as one partition.
   */
  partitions?(n: number): Promise<unknown[]>;
  close?(): Promise<void> | void;
}

// ---------- transforms ----------

/** What the engine passes to `TransformInstance.process` with each record. */
export interface RecordInfo {
  /** Source position of the record. */
  readonly position: RecordPosition;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborted when the attempt times out or the run stops. */
  readonly signal: AbortSignal;
}

/** A record, several records, or null/undefined to drop it (counted as filtered). */
export type TransformResult = SluiceRecord | SluiceRecord[] | null | undefined;

/** What the engine passes to `TransformInstance.processBatch`. */
export interface BatchInfo {
  /** `positions[i]` says where `records[i]` came from (made when first read). */
  readonly positions: readonly RecordPosition[];
  /** Aborted when the run stops. */
  readonly signal: AbortSignal;
}

/** What `processBatch` returns: a result per record, and the records that failed. */
export interface BatchTransformResult {
  /** `results[i]` is what `process(records[i])` would return (ignored for a failed record). */
  readonly results: TransformResult[];
  /**
   * Records that threw, by index into the batch. Each is handled as if `process` had thrown on
   * its first attempt: retried through `process` when its error is retryable, then `onError`.
   */
  readonly failed?: ReadonlyArray<{ readonly index: number; readonly error: unknown }>;
}

/** What a transform plugin's `create` returns. */
export interface TransformInstance {
  /**
   * Handles one record (several run at once, up to the step's `concurrency`). Throw a
   * `PermanentError`/`RecordError` for a record that will never pass; anything else is retried.
   */
  process(record: SluiceRecord, info: RecordInfo): TransformResult | Promise<TransformResult>;
  /**
   * Optional whole-batch form of `process` for transforms that answer synchronously (map,
   * filter): one call and one loop per batch instead of a call, an `info` object and a rate or
   * concurrency check per record. The engine uses it when the step has no `when:` and nothing
   * limits it (no `rateLimit`, no Retry-After pause), and the batch is not a replay; otherwise,
   * and for retries, it calls `process`. Must give the same results as `process` would, and must
   * not keep `records` (return records, or new ones, in `results`). The engine keeps `results` (it
   * becomes the batch's next records): return a new array from each call.
   */
  processBatch?(records: readonly SluiceRecord[], info: BatchInfo): BatchTransformResult;
  close?(): Promise<void> | void;
}

// ---------- sinks ----------

/** What the engine passes to `SinkInstance.write` with each batch. */
export interface WriteInfo {
  /** Sequence number of the batch (0-based, in source order). Every part of a halved batch has it too. */
  readonly seq: number;
  /** `positions[i]` says where `records[i]` came from (made when first read). */
  readonly positions: readonly RecordPosition[];
  readonly attempt: number;
  readonly signal: AbortSignal;
  /**
   * Set when this write is part of the batch, unset for the whole batch. After the sink refused a
   * whole write for good (a `PermanentError`), the engine halves it, and halves the halves, until
   * the refused records stand alone; each part is written (with its own retries) one after
   * another, in order. The records are `offset` … `offset + records.length - 1` of the batch's
   * whole write to this sink (`of` records, in the same order), so (seq, offset, records.length)
   * names a part. A sink that keeps a per-batch "done" marker must key it by that, not by seq
   * alone: the halves share the seq, and a marker set by the first would skip the second.
   * A resumed run writes a batch whole again (its parts are not replayed as parts): a sink that
   * committed some parts of it before the crash must write only the records no committed part
   * holds (the `sql` sink records the committed ranges with the rows for that).
   */
  readonly part?: { readonly offset: number; readonly of: number };
}

/** What `SinkInstance.write` may return: the records the destination refused. */
export interface WriteResult {
  /** Records the destination refused on their data; they follow the sink's `onError`. */
  readonly rejected?: ReadonlyArray<{ readonly index: number; readonly error: Error }>;
  /**
   * The sink's state right after this batch, as `state()` would say it. A pipelined sink that
   * keeps state returns it here: by the time its write finishes it may already hold later batches,
   * so `state()` could describe more than this batch.
   */
  readonly state?: unknown;
}

/** What a sink plugin's `create` returns. */
export interface SinkInstance {
  /**
   * Writes one batch; resolves when the batch is finished (written, or committed, as far as the
   * sink goes before `flush`). Called in source order, one batch at a time per sink — unless the
   * sink opts into `pipeline`.
   */
  write(records: SluiceRecord[], info: WriteInfo): Promise<WriteResult | void>;
  /**
   * Pipelining, opt in: how many batches this sink takes at once (`write` called for batch N+1
   * while batch N's write has not resolved yet), e.g. 2 so a database copies batch N+1 while
   * batch N commits. Unset or 1: one batch at a time. The engine keeps the rest of the contract:
   * - `write` is called in source order (the calls are made in seq order, their promises may
   *   resolve in any order); the checkpoint passes batch N only once N's write and every earlier
   *   one have resolved, on every sink;
   * - when a write fails, the engine waits until every write handed over after it has settled,
   *   then retries the failed batch alone (backoff, then halving a refused batch), then every later
   *   batch whose write failed, in order; no new batch is handed over meanwhile. A sink whose
   *   output depends on order (a file) must therefore fail the writes it holds after a failed
   *   one, so that successful writes stay in source order — and so must a sink that keeps a
   *   "done up to seq N" marker (committing N+1 while N failed would move the marker past N, and
   *   N's retry would be skipped as done); only a sink whose batches are truly independent may
   *   let the later writes finish;
   * - each write's `rejected` and `state` belong to its own batch (return `state` in the result).
   * Retries, timeouts and `rateLimit` apply to each write as usual. Memory still counts every
   * batch a sink holds against `batch.inFlight`, so set it above `pipeline`.
   */
  readonly pipeline?: number;
  /**
   * Bulk writes, opt in: each `write` costs mostly per batch (a transaction's commit, a COPY, a
   * request), not per record. When every sink of a job says so, the job sets no `batch.size` and
   * every step works on whole batches, the engine merges source pages into batches of up to 5,000
   * records (~2 MiB): a load waits on a fifth of the commits. Leave it unset for a sink that makes
   * a call per record, or whose batches cost nothing extra (an append to a file).
   */
  readonly bulk?: boolean;
  /**
   * Raw pages, opt in (see `SourcePage.raw`): the sink writes a page's bytes as they are (a
   * PostgreSQL `COPY … (FORMAT csv)`), and the engine makes no records for it.
   * - `formats`: the raw formats this sink can take; the engine asks the source for them only when
   *   this is the job's one sink and nothing else touches the records.
   * - `accepts(page)`: synchronous, no side effects; false when this page is not one the sink
   *   writes raw (its columns are not the table's, the table does not exist yet, …). The engine
   *   then makes the page's records and calls `write` as usual.
   * - `write(page, info)`: writes all `page.count` rows, or throws having written none. Whatever
   *   it throws, the engine makes the page's records and writes them with `write` at once (the
   *   raw attempt is not counted as a retry): refused rows are then found, halved and
   *   dead-lettered, and errors retried, as on any batch. So throw a `PermanentError` for "not as raw" (the database
   *   refused the data, counted another number of rows). For a pipelined sink a raw write is a
   *   write like any other: a failed one follows the pipelining contract above.
   * It resolves like `write` (the batch's `state`), never with `rejected`.
   */
  readonly raw?: {
    readonly formats: readonly string[];
    /** True when the sink takes pages with `RawPage.cast` (see `ReadOptions.rawCast`); unset, sources yield none. */
    readonly cast?: boolean;
    accepts(page: RawPage): boolean;
    write(page: RawPage, info: WriteInfo): Promise<WriteResult | void>;
  };
  /**
   * The state to save with the checkpoint of the batch just written (e.g. the file size).
   * Called right after each successful `write` that returned no `WriteResult.state` (a pipelined
   * sink returns that instead); must be JSON-serialisable.
   */
  state?(): unknown;
  /** Makes everything written so far durable (fsync, commit). Called before a checkpoint is saved. */
  flush?(): Promise<void>;
  close?(): Promise<void> | void;
}

// ---------- definitions ----------

interface PluginDefinitionBase<S> {
  /** The name used in `use:`. */
  readonly name: string;
  readonly description: string;
  /** JSON Schema of `with`. Mark expression fields with `expression: true`, templates with `template: true`. */
  readonly schema: S;
  /** Cross-field checks run by `validate`; return messages (with the `with` path they concern). */
  readonly rules?: ReadonlyArray<Rule<WrittenConfigOf<S>>>;
}

/**
 * A cross-field check. Declared as a method so its parameter is checked both ways: a rule written
 * before `WrittenConfigOf` existed, typed with `ConfigOf`, still fits.
 */
type Rule<C> = { check(config: C): RuleViolation | RuleViolation[] | undefined }['check'];

/** A cross-field problem a plugin's rule found in a step's `with`; `sluice validate` reports it. */
export interface RuleViolation {
  /** Path inside `with`, e.g. `key` or `columns.id`. Empty for the whole `with`. */
  readonly path?: string;
  readonly message: string;
  readonly hint?: string;
}

/** A source plugin, as `defineSource` returns it; `S` is its schema, `ConfigOf<S>` its config. */
export interface SourceDefinition<S = PluginSchema> extends PluginDefinitionBase<S> {
  readonly kind: 'source';
  create(config: ConfigOf<S>, ctx: PluginContext): SourceInstance | Promise<SourceInstance>;
}
/** A transform plugin, as `defineTransform` returns it; `S` is its schema, `ConfigOf<S>` its config. */
export interface TransformDefinition<S = PluginSchema> extends PluginDefinitionBase<S> {
  readonly kind: 'transform';
  create(config: ConfigOf<S>, ctx: PluginContext): TransformInstance | Promise<TransformInstance>;
}
/**
 * What a sink promises about a batch that a crash interrupted and a resume writes again:
 * - `exactly-once`: every record is held once, none lost (a file truncated to its checkpoint, a
 *   table whose commits carry the checkpoint);
 * - `effectively-once`: it may write a record again, but what it holds ends up the same (upsert by key);
 * - `at-least-once`: nothing lost, duplicates possible;
 * - `at-most-once`: nothing twice, losses possible (a send ledger that marks before it sends).
 */
export type SinkGuarantee = 'exactly-once' | 'effectively-once' | 'at-least-once' | 'at-most-once';

/** A sink plugin, as `defineSink` returns it; `S` is its schema, `ConfigOf<S>` its config. */
export interface SinkDefinition<S = PluginSchema> extends PluginDefinitionBase<S> {
  readonly kind: 'sink';
  create(config: ConfigOf<S>, ctx: PluginContext): SinkInstance | Promise<SinkInstance>;
  /**
   * What this sink promises across a crash and a resume (see {@link SinkGuarantee}); a function when
   * it depends on the config or the job (a sql sink is exactly-once only with the checkpoint in its
   * database). `sluice crash-test` judges the sink by it; undeclared, it is judged as at-least-once.
   */
  readonly guarantee?: SinkGuarantee | ((config: ConfigOf<S>, job: JobInfo) => SinkGuarantee);
  /** True when `readBack` lists records in the order they were written and a resume must keep that order (a file). */
  readonly ordered?: boolean;
  /**
   * Lists the records this sink durably holds for `config` (the whole file, every row of the
   * table), for `sluice crash-test` and `crashTest` only. Without it a crash test reports the sink
   * "not checked".
   */
  readBack?(config: ConfigOf<S>, ctx: PluginContext): AsyncIterable<SluiceRecord> | Iterable<SluiceRecord> | Promise<Iterable<SluiceRecord> | AsyncIterable<SluiceRecord>>;
}

/** Any plugin definition, whatever its kind and schema (what a package's default export holds). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPluginDefinition = SourceDefinition<any> | TransformDefinition<any> | SinkDefinition<any>;

/**
 * The plugin API version this core implements; `define*` stamps it on each plugin, and a plugin
 * stamped with another is refused. Packages also declare `peerDependencies['@sluice/core']`.
 */
export const PLUGIN_API_VERSION = 1;
