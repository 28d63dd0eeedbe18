import { randomUUID } from 'node:crypto';
import { BusLogger, EventBus, Redactor } from '../events/bus.js';
import type { JobPlan, StepPlan } from '../job/plan.js';
import type { SourceInstance } from '../plugin/types.js';
import { systemClock, type Clock } from './clock.js';
import { RunConnections } from './connections.js';
import { expressionScopeOf, jobInfoOf, pluginContext } from './context.js';
import { RunFailure, messageOf } from './pipeline.js';
import { StepThrottle } from './throttle.js';

/** How a distributed run splits its job: one source slice per partition. */
export interface PartitionPlan {
  /**
   * One JSON value per partition, in order, as the source's `partitions()` returned it (after a
   * JSON round trip, so it is exactly what travels to a worker). `undefined` reads the whole source.
   */
  readonly specs: readonly unknown[];
  /** More than one partition was asked for, but the source cannot split (no `partitions`, or it gave one slice). */
  readonly unsplittable: boolean;
}

export interface PlanPartitionsOptions {
  /** Where the source's log lines go while it plans (default: nowhere). */
  readonly bus?: EventBus;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
}

/**
 * Asks the job's source for at most `n` slices: creates the source plugin with the same context a
 * run gives it, calls `partitions(n)` when it has one, and closes it (and any connection it
 * opened). A source that cannot split runs as one partition reading everything.
 */
export async function planPartitions(plan: JobPlan, n: number, options: PlanPartitionsOptions = {}): Promise<PartitionPlan> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`partitions must be a whole number of at least 1 (got ${n})`);
  const step = plan.source;
  const redactor = new Redactor(plan.secrets);
  const connections = new RunConnections(plan.connections);
  const connection = step.config.connection;
  if (typeof connection === 'string') connections.declare(connection, step.concurrency);
  const abort = new AbortController();
  const onAbort = () => abort.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const clock = options.clock ?? systemClock;
  const throttles = new Map<string, StepThrottle>();
  const services = {
    plan,
    job: jobInfoOf(plan, { runId: randomUUID(), dryRun: false }),
    scope: expressionScopeOf(plan),
    clock,
    logger: new BusLogger(options.bus ?? new EventBus(), redactor.redact),
    connections,
    signal: abort.signal,
    redact: redactor.redact,
    ledger: () => Promise.reject(new Error('no ledger while planning partitions')),
    // Splitting is not a run: a retry while planning shows only in the plugin's own log.
    countRetry: () => undefined,
    throttleOf: (s: StepPlan) => {
      let throttle = throttles.get(s.id);
      if (!throttle) throttles.set(s.id, (throttle = new StepThrottle(clock, s.rate)));
      return throttle;
    },
  };
  const failure = (what: string, error: unknown) =>
    new RunFailure(`source '${step.id}' (${step.use}) ${what}: ${redactor.redact(messageOf(error))}`, { cause: error });

  let instance: SourceInstance | undefined;
  try {
    try {
      instance = (await step.plugin.create(step.config as never, pluginContext(services, step, undefined))) as SourceInstance;
    } catch (error) {
      throw failure('could not start', error);
    }
    if (n === 1) return { specs: [undefined], unsplittable: false };
    if (typeof instance.partitions !== 'function') return { specs: [undefined], unsplittable: true };
    let specs: unknown[];
    try {
      specs = await instance.partitions(n);
    } catch (error) {
      throw failure('could not be split', error);
    }
    if (!Array.isArray(specs)) throw failure('could not be split', new Error(`partitions(${n}) returned ${typeof specs}, not an array`));
    if (specs.length > n) throw failure('could not be split', new Error(`partitions(${n}) returned ${specs.length} slices`));
    if (specs.length === 0) return { specs: [undefined], unsplittable: true };
    let json: unknown[];
    try {
      json = (JSON.parse(JSON.stringify(specs)) as unknown[]).map((spec) => spec ?? undefined);
    } catch (error) {
      throw failure('could not be split', new Error(`its slices are not JSON-serialisable (${messageOf(error)})`));
    }
    return { specs: json, unsplittable: json.length === 1 };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    try {
      await instance?.close?.();
    } finally {
      abort.abort(new Error('partitions planned'));
      await connections.closeAll();
    }
  }
}
