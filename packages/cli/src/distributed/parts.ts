import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobPlan } from '@sluice/core/internal';
import type { CoordinatorOptions } from './coordinator.js';
import type { PartitionJobData } from './protocol.js';
import { redisErrorText, type RedisTarget } from './redis.js';

/** What every part of a coordinator shares: the run's options, its Redis clients and keys. */
export interface CoordinatorContext {
  readonly o: CoordinatorOptions;
  readonly plan: JobPlan;
  readonly target: RedisTarget;
  readonly redis: Redis;
  readonly queue: Queue<PartitionJobData>;
  readonly keys: { readonly run: string; readonly stop: string };
  /** A line on stderr (redacted). */
  readonly say: (line: string) => void;
}

/** The coordinator's parts (plan store, partition queue, follower) see the context as their own fields. */
export abstract class CoordinatorPart {
  protected readonly o: CoordinatorOptions;
  protected readonly plan: JobPlan;
  protected readonly target: RedisTarget;
  protected readonly redis: Redis;
  protected readonly queue: Queue<PartitionJobData>;
  protected readonly keys: { readonly run: string; readonly stop: string };
  protected readonly say: (line: string) => void;

  constructor(c: CoordinatorContext) {
    this.o = c.o;
    this.plan = c.plan;
    this.target = c.target;
    this.redis = c.redis;
    this.queue = c.queue;
    this.keys = c.keys;
    this.say = c.say;
  }
}

/** The run cannot go on for a reason the user can act on: one line, exit 1. */
export class CoordinatorError extends Error {}

/** How long a stop waits for running partitions to report before the coordinator leaves anyway. */
export const STOP_WAIT_MS = 120_000;
const COMMAND_TIMEOUT_MS = 5000;

/** Whether `error` is Redis being away (not a bug). */
export function isConnectionTrouble(error: unknown): boolean {
  const text = redisErrorText(error);
  return (
    (error as Error)?.name === 'MaxRetriesPerRequestError' ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|Connection is closed|no reply within|Stream isn't writeable|max retries per request/i.test(text)
  );
}


/** Rejects after `ms` so a call to a Redis that went away cannot hang the coordinator. */
export function timed<T>(promise: Promise<T>, what: string, ms = COMMAND_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no reply within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

