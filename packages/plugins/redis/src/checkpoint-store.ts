import { defineCheckpointStore, type Checkpoint, type CheckpointLock, type CheckpointStore, type CheckpointStoreFactory, type CheckpointStoreOptions, type Ledger, type LockHolder, type LockOptions } from '@sluice/core';
import { RedisConnection } from './connection.js';
import type { RedisEndpoint } from './endpoint.js';
import { RedisLedger } from './ledger.js';
import { RedisLease, SET_IF_HELD } from './lease.js';
import { checkpointKey, DEFAULT_PREFIX, deleteMatching, globLiteral, ledgerKey } from './keys.js';

/** Where a {@link RedisCheckpointStore} keeps one job's (or one partition's) checkpoint. */
export interface RedisCheckpointStoreOptions {
  /** `redis://[user:password@]host:6379[/db]` (or `rediss://…?ca=…`), or a parsed endpoint; never shown with its credentials. */
  readonly url: string | RedisEndpoint;
  /** Where a relative `?ca=` path resolves from (the job's folder). */
  readonly dir?: string;
  /** Prefix of every key (default `sluice`). */
  readonly prefix?: string;
  readonly job: string;
  /** The job's fingerprint: part of the key of a partition's checkpoint. */
  readonly fingerprint: string;
  /** Set for a partition of a distributed run. */
  readonly partition?: number;
  /** How long the run's lease lives without renewal (default 30 s). */
  readonly leaseMs?: number;
}

/**
 * `checkpoint: { store: redis, url, prefix }`: the checkpoint is one JSON string, replaced by a
 * single SET (atomic). A local run uses `<prefix>:checkpoint:<job>`; partition n of a distributed
 * run uses `<prefix>:checkpoint:<job>:<fingerprint>:p<n>`. Ledgers are sets at
 * `<prefix>:ledger:<job>:<name>`, shared by every partition and kept by `clear()`.
 *
 * Each store has its own client (connected on first use); its ledgers share it. A Redis that is
 * down or goes away makes `load`, `save` and ledger adds reject within a few seconds.
 */
export class RedisCheckpointStore implements CheckpointStore {
  /** `redis://host:port <key>`: no credentials. */
  readonly location: string;
  /** The Redis key of the checkpoint. */
  readonly key: string;
  private readonly prefix: string;
  /** The run's lease, once {@link lock} took it: saves are fenced by it. */
  private lease: RedisLease | undefined;

  private constructor(
    private readonly conn: RedisConnection,
    private readonly options: RedisCheckpointStoreOptions,
  ) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.key = checkpointKey(this.prefix, options.job, options.fingerprint, options.partition);
    this.location = `${conn.endpoint.display} ${this.key}`;
  }

  /** Makes the store; nothing is sent to Redis until the first call. Rejects a malformed URL. */
  static async open(options: RedisCheckpointStoreOptions): Promise<RedisCheckpointStore> {
    return new RedisCheckpointStore(await RedisConnection.open(options.url, options.dir ? { dir: options.dir } : {}), options);
  }

  async load(): Promise<Checkpoint | undefined> {
    const text = await this.conn.run(`load checkpoint ${this.key}`, (client) => client.get(this.key));
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as Checkpoint;
    } catch (error) {
      throw new Error(`checkpoint ${this.location} is not valid JSON; run with --fresh (or sluice reset)`, { cause: error });
    }
  }

  /** `<checkpoint key>:lock`: the lease of the run that holds this job (or partition). */
  get lockKey(): string {
    return `${this.key}:lock`;
  }

  async lock(holder: LockHolder, options: LockOptions = {}): Promise<CheckpointLock> {
    const lease = await RedisLease.acquire(this.conn, this.lockKey, this.location, holder, { ...options, ...(this.options.leaseMs ? { ttlMs: this.options.leaseMs } : {}) });
    this.lease = lease;
    return { release: () => lease.release() };
  }

  lockHolder(): Promise<LockHolder | undefined> {
    return RedisLease.holder(this.conn, this.lockKey);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    const json = JSON.stringify(checkpoint);
    const lease = this.lease;
    if (!lease) {
      await this.conn.run(`save checkpoint ${this.key}`, (client) => client.set(this.key, json));
      return;
    }
    const done = await this.conn.run(`save checkpoint ${this.key}`, (client) => client.eval(SET_IF_HELD, 2, lease.key, this.key, lease.value, json));
    if (done === null) {
      throw new Error(
        `redis checkpoint store at ${this.conn.endpoint.display}: cannot save checkpoint ${this.key}: this run lost its lock ${lease.key} ` +
          '(Redis restarted, or the run paused longer than the lease); another run may hold the job now',
      );
    }
  }

  /** Forgets this run's checkpoint (`--fresh`, `sluice reset`); ledgers stay. */
  async clear(): Promise<void> {
    await this.conn.run(`clear checkpoint ${this.key}`, (client) => client.del(this.key));
  }

  ledger(name: string): Promise<Ledger> {
    return RedisLedger.open(this.conn, ledgerKey(this.prefix, this.options.job, name));
  }

  /** Deletes every `<prefix>:ledger:<job>:*` set (`--fresh --resend`), found with SCAN. */
  async clearLedgers(): Promise<void> {
    const pattern = `${globLiteral(ledgerKey(this.prefix, this.options.job, ''))}*`;
    await this.conn.run('clear ledgers', (client) => deleteMatching(client, pattern));
  }

  /** Closes the client (QUIT, or a hard disconnect after a second if Redis is gone). */
  async close(): Promise<void> {
    await this.lease?.release();
    await this.conn.close();
  }
}

/** The `redis` checkpoint store of a job file: `checkpoint.url`, `checkpoint.prefix` (default `sluice`). */
export const redisStore = defineCheckpointStore({
  name: 'redis',
  description: 'Checkpoints and ledgers in Redis, one key per job (or partition).',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      url: { type: 'string', minLength: 1, description: 'Redis store: the server URL, e.g. redis://127.0.0.1:6379 or ${env:REDIS_URL}.', examples: ['redis://127.0.0.1:6379'] },
      prefix: { type: 'string', pattern: '^[A-Za-z0-9_.:-]+$', default: DEFAULT_PREFIX, description: 'Redis store: prefix of every key Sluice writes.' },
    },
  },
  rules: [(config) => (config.url === undefined ? { message: 'checkpoint store redis needs url: redis://host:6379 (or ${env:REDIS_URL})' } : undefined)],
  create: (options) =>
    RedisCheckpointStore.open({
      url: options.config.url!,
      dir: options.dir,
      prefix: options.config.prefix,
      job: options.job,
      fingerprint: options.fingerprint,
      ...(options.partition !== undefined ? { partition: options.partition } : {}),
    }),
});

/**
 * A factory that keeps checkpoints in the given Redis whatever the job file says (its
 * `checkpoint.url` and `prefix` are ignored): a distributed worker puts every partition's
 * checkpoint in the queue's Redis.
 */
export function redisCheckpointStore(defaults: { url: string | RedisEndpoint; prefix?: string; leaseMs?: number }): CheckpointStoreFactory {
  return (options: CheckpointStoreOptions) =>
    RedisCheckpointStore.open({
      url: defaults.url,
      ...(defaults.leaseMs ? { leaseMs: defaults.leaseMs } : {}),
      prefix: defaults.prefix ?? DEFAULT_PREFIX,
      job: options.job,
      fingerprint: options.fingerprint,
      ...(options.partition !== undefined ? { partition: options.partition } : {}),
    });
}

/**
 * Deletes every partition checkpoint of `job` (`<prefix>:checkpoint:<job>:<fingerprint>:p<n>`),
 * of one fingerprint or, when none is given, of all; the local checkpoint and the ledgers stay.
 * Used by the coordinator's `--fresh`. Resolves to the number of keys deleted.
 */
export async function clearRunCheckpoints(url: string | RedisEndpoint, prefix: string | undefined, job: string, fingerprint?: string): Promise<number> {
  const conn = await RedisConnection.open(url);
  const base = `${prefix ?? DEFAULT_PREFIX}:checkpoint:${job}:`;
  const pattern = `${globLiteral(base)}${fingerprint === undefined ? '*' : `${globLiteral(fingerprint)}:p*`}`;
  // The glob also matches a longer job name or fingerprint containing ':'; the check does not.
  const partitionKey = (key: string) => {
    if (!key.startsWith(base)) return false;
    const rest = key.slice(base.length);
    const match = /^([^:]+):p\d+$/.exec(rest);
    return match !== null && (fingerprint === undefined || match[1] === fingerprint);
  };
  try {
    return await conn.run(`clear the partition checkpoints of job ${job}`, (client) => deleteMatching(client, pattern, partitionKey));
  } finally {
    await conn.close();
  }
}
