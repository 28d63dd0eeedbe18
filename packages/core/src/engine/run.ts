import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { DependencyContainer } from 'tsyringe';
import { openCheckpointStore } from '../checkpoint/open.js';
import type { Checkpoint, CheckpointStore } from '../checkpoint/types.js';
import { CheckpointLockedError, lockHolder } from '../checkpoint/lock.js';
import type { Ledger } from '../checkpoint/ledger.js';
import { BusLogger, EventBus, Redactor } from '../events/bus.js';
import type { RunSummary, ProgressSnapshot } from '../events/types.js';
import { StartupRefusal } from '../errors/index.js';
import { compileExpression } from '../expr/index.js';
import type { JobPlan, StepPlan } from '../job/plan.js';
import type { PluginContext, RetryNotice, SinkInstance, SourceInstance, TransformInstance } from '../plugin/types.js';
import type { CheckpointStoreFactory } from '../plugin/extensions.js';
import { runContainer, Services } from '../plugin/services.js';
import { systemClock, type Clock } from './clock.js';
import { expressionScopeOf, jobInfoOf, pluginContext, type ContextServices } from './context.js';
import { RunConnections } from './connections.js';
import { Pipeline, RunFailure, messageOf, type EnginePage } from './pipeline.js';
import { Semaphore } from './semaphore.js';
import { pipelineDepth } from './sink-lane.js';
import { LatencyWindow, RateMeter, newStepCounters, type RuntimeStep } from './steps.js';
import { StepThrottle } from './throttle.js';
import { finishPendingReplay } from './replay.js';

// Moved out of the engine (plugin/services.ts, plugin/extensions.ts, checkpoint/open.ts); re-exported for its callers.
export { Services } from '../plugin/services.js';
export { openCheckpointStore } from '../checkpoint/open.js';
export type { CheckpointStoreFactory, CheckpointStoreOptions } from '../plugin/extensions.js';

export interface RunOptions {
  /** Forget the checkpoint and start over (sinks start empty). */
  readonly fresh?: boolean;
  /** With `fresh`: also forget the ledgers (an email sink mails everyone again). */
  readonly resend?: boolean;
  /** Read and transform, but write nothing and save no checkpoint. */
  readonly dryRun?: boolean;
  /** Read at most this many records; no checkpoint is saved. */
  readonly limit?: number;
  /** Graceful stop: stop reading, drain, checkpoint. */
  readonly signal?: AbortSignal;
  readonly bus?: EventBus;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Parent container (default: the job's, `plan.container`); a child is made per run. */
  readonly container?: DependencyContainer;
  /** Stores that replace the job's registered kinds of the same name (distributed partitions, tests). */
  readonly checkpointStores?: Readonly<Record<string, CheckpointStoreFactory>>;
  /** Pages to run instead of the source (replay, tests); no checkpoint is saved. */
  readonly input?: AsyncIterable<EnginePage>;
  /**
   * With `input`: the seq of its first batch. Replay numbers its batches after the checkpoint's, so
   * a sink's per-batch marker (sql) never mistakes a replayed batch for one it already committed.
   */
  readonly firstSeq?: number;
  /** Sink states to start from instead of the checkpoint's (replay appends to the output). */
  readonly sinkStates?: Readonly<Record<string, unknown>>;
  /** Dead-letter sink state to start from; undefined starts the dead-letter output empty. */
  readonly deadLetterState?: unknown;
  /** Run one slice of the source (distributed runs); the checkpoint is kept per partition. */
  readonly partition?: { readonly index: number; readonly count: number; readonly spec: unknown };
  /**
   * Shared `rateLimit` state by step id (`StepThrottle.sharedState()`): runs given the same
   * buffers — e.g. the worker threads of one run — share each step's rate and Retry-After pauses.
   */
  readonly limiters?: Readonly<Record<string, SharedArrayBuffer>>;
  /** Dead-letter `with` overrides (replay writes to a temp file). */
  readonly deadLetterConfig?: Readonly<Record<string, unknown>>;
  /** How long to wait for the job state's lock while another run holds it (default 0: fail at once). */
  readonly lockWaitMs?: number;
}

/** The checkpoint belongs to another version of the job. */
export class CheckpointMismatchError extends Error {
  constructor(readonly location: string) {
    super(
      `the checkpoint ${location} was saved by a different version of this job (source, steps or sinks changed); ` +
        're-run with --fresh to start over, or restore the job as it was to resume',
    );
    this.name = 'CheckpointMismatchError';
  }
}

/**
 * One run of a job: a child container with the run's services, the plugins created with their
 * contexts, the pipeline, and everything closed at the end whatever happened.
 */
export class JobRun {
  readonly bus: EventBus;
  private pipeline: Pipeline | undefined;
  private readonly abort = new AbortController();
  private readonly stopRequests: string[] = [];
  private readonly earlyRetries: Array<[string, RetryNotice]> = [];

  constructor(
    readonly plan: JobPlan,
    private readonly options: RunOptions = {},
  ) {
    this.bus = options.bus ?? new EventBus();
    const signal = options.signal;
    const onAbort = () => this.stop(String((signal!.reason as Error)?.message ?? 'interrupted'));
    // A signal aborted before the run was made fires no event: honour it now.
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  }

  /** Stop gracefully: stop reading, finish what is in flight, checkpoint. */
  stop(reason: string): void {
    if (this.pipeline) this.pipeline.stop(reason);
    else this.stopRequests.push(reason);
  }

  progress(): ProgressSnapshot | undefined {
    return this.pipeline?.progress();
  }

  async run(): Promise<RunSummary> {
    const { plan, options } = this;
    const clock = options.clock ?? systemClock;
    const redactor = new Redactor(plan.secrets);
    const connections = new RunConnections(plan.connections);
    const logger = new BusLogger(this.bus, redactor.redact);
    const container = runContainer(options.container ?? plan.container, { clock, bus: this.bus, redactor, connections, logger, random: options.random ?? Math.random });

    const closers: Array<() => unknown> = [];
    const startedAt = clock.now();
    try {
      const replaying = options.input !== undefined;
      const checkpointing = !options.dryRun && options.limit === undefined && !replaying;
      // Pools are sized to every step that names them, the checkpoint store included.
      for (const step of [plan.source, ...plan.steps, ...plan.sinks]) {
        const connection = step.config.connection;
        if (typeof connection === 'string') connections.declare(connection, step.concurrency);
      }
      const store = await openCheckpointStore(plan, options.checkpointStores, connections, options.partition?.index, container);
      container.register(Services.CheckpointStore, { useValue: store });
      closers.push(() => store.close?.());
      // One run at a time writes a job's output and checkpoint (a dry run writes neither).
      // A replay holds the lock itself, from reading the checkpoint to saving it.
      if (!options.dryRun && !replaying && store.lock) {
        const lock = await store.lock(lockHolder(), { waitMs: options.lockWaitMs ?? 0, ...(options.signal ? { signal: options.signal } : {}) });
        closers.push(() => lock.release());
      }

      let resume: Checkpoint | undefined;
      if (options.fresh && !options.dryRun) await store.clear();
      else if (!replaying) {
        resume = await store.load();
        if (resume?.replay) resume = await finishPendingReplay(store, resume);
        if (resume && resume.fingerprint !== plan.fingerprint) throw new CheckpointMismatchError(store.location);
      }

      const scope = expressionScopeOf(plan);
      const jobInfo = jobInfoOf(plan, { runId: randomUUID(), dryRun: options.dryRun ?? false, ...(options.partition ? { partition: options.partition } : {}) });

      const throttles = new Map<string, StepThrottle>();
      const throttleOf = (step: StepPlan) => {
        let throttle = throttles.get(step.id);
        // A dry run calls no sink's destination: their rate limits would only slow it down.
        const rate = options.dryRun && step.kind === 'sink' ? undefined : step.rate;
        if (!throttle) throttles.set(step.id, (throttle = new StepThrottle(clock, rate, options.limiters?.[step.id])));
        return throttle;
      };
      const ledgers = new Map<string, Promise<Ledger>>();
      const ledger = (name: string): Promise<Ledger> => {
        if (!/^[A-Za-z0-9_.-]+$/.test(name)) return Promise.reject(new Error(`invalid ledger name '${name}'`));
        let opened = ledgers.get(name);
        if (!opened) {
          if (!store.ledger) {
            return Promise.reject(new Error(`checkpoint store '${plan.checkpoint.store}' keeps no ledger; use checkpoint.store: file or sql`));
          }
          opened = store.ledger(name);
          ledgers.set(name, opened);
          closers.push(async () => (await opened!).close());
        }
        return opened;
      };
      if (options.fresh && options.resend && !options.dryRun) await store.clearLedgers?.();

      const services: ContextServices = {
        plan,
        job: jobInfo,
        scope,
        clock: container.resolve<Clock>(Services.Clock),
        logger: container.resolve<BusLogger>(Services.Logger),
        connections: container.resolve<RunConnections>(Services.Connections),
        signal: this.abort.signal,
        redact: redactor.redact,
        ledger,
        throttleOf,
        // Plugins are made before the pipeline; a retry counted before it exists waits for it.
        countRetry: (step, retry) => {
          if (this.pipeline) this.pipeline.countRetry(step.id, retry);
          else this.earlyRetries.push([step.id, retry]);
        },
      };
      const makeContext = (step: StepPlan, state: unknown): PluginContext => pluginContext(services, step, state);

      const runtime = <I>(step: StepPlan, instance: I, index: number): RuntimeStep<I> => ({
        plan: step,
        instance,
        index,
        when: step.when ? compileExpression(step.when, scope, { timeoutMs: step.timeoutMs }) : undefined,
        // A sink takes one batch at a time, or as many as it pipelines.
        sem: new Semaphore(step.kind === 'sink' ? pipelineDepth(instance as SinkInstance) : step.concurrency),
        throttle: throttleOf(step),
        counters: newStepCounters(),
        retrying: 0,
        latency: new LatencyWindow(),
        meter: new RateMeter(),
      });

      const create = async <I>(step: StepPlan, state: unknown): Promise<I> => {
        try {
          const instance = (await step.plugin.create(step.config as never, makeContext(step, state))) as unknown as I & { close?: () => unknown };
          closers.push(() => instance.close?.());
          return instance;
        } catch (error) {
          if (error instanceof StartupRefusal) throw new StartupRefusal(`step '${step.id}' (${step.use}): ${redactor.redact(messageOf(error))}`, { cause: error });
          throw new RunFailure(`step '${step.id}' (${step.use}) could not start: ${redactor.redact(messageOf(error))}`, { cause: error });
        }
      };

      const source = runtime<SourceInstance>(plan.source, replaying ? { read: () => emptyPages() } : await create<SourceInstance>(plan.source, resume?.cursor), -1);
      const steps = [];
      for (const [index, step] of plan.steps.entries()) steps.push(runtime<TransformInstance>(step, await create(step, undefined), index));
      const sinks = [];
      for (const step of plan.sinks) {
        const state = options.sinkStates ? options.sinkStates[step.id] : resume?.sinks[step.id];
        sinks.push({ ...runtime<SinkInstance>(step, await create<SinkInstance>(step, state), plan.steps.length), state });
      }
      const dlPlan: StepPlan = options.deadLetterConfig ? { ...plan.deadLetter, config: { ...plan.deadLetter.config, ...options.deadLetterConfig } } : plan.deadLetter;
      const dlState = replaying ? options.deadLetterState : resume?.deadLetter;
      const deadLetter = { ...runtime<SinkInstance>(dlPlan, await create<SinkInstance>(dlPlan, dlState), plan.steps.length), state: dlState };
      // Close in reverse order of opening: plugins first, the checkpoint store last.
      closers.reverse();

      const dlPath = dlPlan.use === 'file' && typeof dlPlan.config.path === 'string' ? resolve(plan.dir, dlPlan.config.path) : undefined;
      this.pipeline = new Pipeline({
        plan,
        source,
        steps,
        sinks,
        deadLetter,
        store,
        bus: this.bus,
        clock,
        random: options.random ?? Math.random,
        redact: redactor.redact,
        abort: this.abort,
        resume,
        limit: options.limit,
        dryRun: options.dryRun ?? false,
        checkpointing,
        deadLetterPath: dlPath,
        input: options.input,
        ...(options.firstSeq !== undefined ? { firstSeq: options.firstSeq } : {}),
        ...(options.partition ? { partition: options.partition.spec } : {}),
      });
      for (const reason of this.stopRequests) this.pipeline.stop(reason);
      for (const [id, retry] of this.earlyRetries.splice(0)) this.pipeline.countRetry(id, retry);
      const summary = await this.pipeline.run();
      this.failure = this.pipeline.error;
      this.lastStates = { sinks: Object.fromEntries(sinks.map((s) => [s.plan.id, s.state])), deadLetter: deadLetter.state };
      const closeErrors = await this.closeAll(closers, connections);
      const final = closeErrors.length && summary.status === 'done'
        ? { ...summary, status: 'failed' as const, error: `closing failed: ${redactor.redact(closeErrors.map(messageOf).join('; '))}` }
        : summary;
      this.bus.emit({ type: 'end', summary: final });
      return final;
    } catch (error) {
      this.abort.abort(error);
      await this.closeAll(closers, connections);
      if (error instanceof CheckpointMismatchError || error instanceof StartupRefusal || error instanceof CheckpointLockedError) throw error;
      const failure = error instanceof RunFailure ? error : new RunFailure(redactor.redact(messageOf(error)), { cause: error });
      this.failure = failure;
      const summary: RunSummary = {
        job: plan.name,
        status: 'failed',
        error: failure.message,
        durationMs: clock.now() - startedAt,
        counters: { read: 0, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 },
        thisRun: { read: 0, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 },
        steps: [],
        dryRun: options.dryRun ?? false,
        resumed: false,
      };
      this.bus.emit({ type: 'end', summary });
      return summary;
    }
  }

  /** The error that failed the run, with its cause chain (for `--verbose`). */
  failure: Error | undefined;

  /** Sink and dead-letter states after the run (replay saves them into the checkpoint). */
  lastStates: { sinks: Record<string, unknown>; deadLetter: unknown } | undefined;

  private async closeAll(closers: Array<() => unknown>, connections: RunConnections): Promise<Error[]> {
    const errors: Error[] = [];
    for (const close of closers.splice(0)) {
      try {
        await close();
      } catch (error) {
        errors.push(error as Error);
      }
    }
    errors.push(...(await connections.closeAll()));
    return errors;
  }
}

async function* emptyPages(): AsyncGenerator<EnginePage> {}
