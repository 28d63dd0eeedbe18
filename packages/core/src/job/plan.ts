import type { DependencyContainer } from 'tsyringe';
import type { ConnectionConfig } from '../engine/connections.js';
import type { CheckpointConfig } from '../plugin/extensions.js';
import type { AnyPluginDefinition, PluginKind } from '../plugin/types.js';
import type { FailureBudget, Rate } from './values.js';

export interface RetryPolicy {
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: boolean;
  /** Plugin-specific classes of errors to retry (http: 429, 5xx, timeout, network). */
  readonly on?: ReadonlyArray<string | number>;
}

/** A validated step with its plugin resolved and every setting filled in. */
export interface StepPlan {
  readonly id: string;
  readonly kind: PluginKind;
  /** JSON pointer of the step in the job file (`/steps/1`). */
  readonly pointer: string;
  readonly use: string;
  readonly plugin: AnyPluginDefinition;
  readonly config: Record<string, unknown>;
  readonly when?: string;
  readonly concurrency: number;
  readonly retry: RetryPolicy;
  readonly timeoutMs: number;
  readonly rate?: Rate;
  readonly onError: 'fail' | 'skip' | 'deadLetter';
}

/** A job that passed validation: what the engine runs. */
export interface JobPlan {
  /** The job file as the user named it (for messages). */
  readonly file: string;
  /** The job file's folder; relative paths resolve from here. */
  readonly dir: string;
  readonly name: string;
  readonly description?: string;
  /** `grow`: the job sets no `batch.size`, so the engine may merge pages into larger batches (engine/batch-growth.ts). */
  readonly batch: { readonly size: number; readonly inFlight: number; readonly grow?: boolean };
  /** `store` and that store's options as its schema checked them, defaults filled in. */
  readonly checkpoint: CheckpointConfig;
  /** The providers the job was loaded with (contributed stores and connection kinds); a run's container is a child of it. */
  readonly container: DependencyContainer;
  readonly connections: Readonly<Record<string, ConnectionConfig>>;
  readonly source: StepPlan;
  readonly steps: readonly StepPlan[];
  readonly sinks: readonly StepPlan[];
  readonly deadLetter: StepPlan;
  readonly maxFailed?: FailureBudget;
  readonly fingerprint: string;
  /** Values from `${env:}`/`${file:}`: never shown. */
  readonly secrets: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}
