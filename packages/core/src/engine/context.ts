import { isAbsolute, resolve } from 'node:path';
import type { Ledger } from '../checkpoint/ledger.js';
import type { BusLogger } from '../events/bus.js';
import { compileExpression, compileTemplate, type ExpressionScope, type TemplateOptions } from '../expr/index.js';
import type { JobPlan, StepPlan } from '../job/plan.js';
import type { JobInfo, PluginContext, RetryNotice } from '../plugin/types.js';
import type { Clock } from './clock.js';
import type { ConnectionRegistry } from './connections.js';
import type { StepThrottle } from './throttle.js';

/** What every plugin context of one run (or one partition plan) shares. */
export interface ContextServices {
  readonly plan: JobPlan;
  readonly job: JobInfo;
  readonly scope: ExpressionScope;
  readonly clock: Clock;
  readonly logger: BusLogger;
  readonly connections: ConnectionRegistry;
  /** Aborted when the run stops. */
  readonly signal: AbortSignal;
  readonly redact: (text: string) => string;
  readonly ledger: (name: string) => Promise<Ledger>;
  readonly throttleOf: (step: StepPlan) => StepThrottle;
  /** Counts a retry a plugin made itself (`ctx.countRetry`). */
  readonly countRetry: (step: StepPlan, retry: RetryNotice) => void;
}

/** The names an expression of this job sees besides `record`. */
export function expressionScopeOf(plan: JobPlan): ExpressionScope {
  return { env: Object.freeze({ ...plan.env }), job: Object.freeze({ name: plan.name }) };
}

/** The job facts a plugin may read (`ctx.job`). */
export function jobInfoOf(
  plan: JobPlan,
  run: { readonly runId: string; readonly dryRun: boolean; readonly partition?: { readonly index: number; readonly count: number } },
): JobInfo {
  return {
    name: plan.name,
    dir: plan.dir,
    fingerprint: plan.fingerprint,
    runId: run.runId,
    dryRun: run.dryRun,
    checkpoint: { store: plan.checkpoint.store, ...(plan.checkpoint.connection ? { connection: plan.checkpoint.connection } : {}) },
    ...(run.partition ? { partition: { index: run.partition.index, count: run.partition.count } } : {}),
  };
}

/** The context a step's plugin is created with. */
export function pluginContext(services: ContextServices, step: StepPlan, state: unknown): PluginContext {
  const { plan, scope } = services;
  return {
    job: services.job,
    step: {
      id: step.id,
      kind: step.kind,
      concurrency: step.concurrency,
      timeoutMs: step.timeoutMs,
      ...(step.retry.on ? { retryOn: step.retry.on } : {}),
      retry: step.retry,
    },
    ledger: services.ledger,
    throttle: services.throttleOf(step),
    logger: services.logger.child(step.id),
    clock: services.clock,
    connections: services.connections,
    signal: services.signal,
    resolvePath: (path: string) => (isAbsolute(path) ? path : resolve(plan.dir, path)),
    // An evaluation may run as long as one attempt of its step.
    expression: (source: string) => compileExpression(source, scope, { timeoutMs: step.timeoutMs }),
    template: (source: string, options?: TemplateOptions) => compileTemplate(source, scope, { ...options, timeoutMs: step.timeoutMs }),
    state,
    redact: services.redact,
    countRetry: (retry: RetryNotice) => services.countRetry(step, retry),
  };
}
