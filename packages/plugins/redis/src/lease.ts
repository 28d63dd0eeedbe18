import { CheckpointLockedError, isStale, parseHolder, pauseForLock, type CheckpointLock, type LockHolder, type LockOptions } from '@sluice/core';
import type { RedisConnection } from './connection.js';

/** How long a lease lives without renewal; renewed every third of it. */
export const DEFAULT_LEASE_MS = 30_000;

// Compare-and-act scripts: only the holder (its token, inside the value) may renew or delete.
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const DELETE_IF = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Sets KEYS[2] only while KEYS[1] holds ARGV[1]: a run that lost its lease cannot write. */
export const SET_IF_HELD = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[2], ARGV[2]) else return false end`;

/**
 * A lease on a job's (or a partition's) state in Redis: `<checkpoint key>:lock`, set with NX and
 * a TTL, renewed while the run lives. A run killed outright loses it when the TTL runs out; one
 * whose holder is a dead process of this host is taken over at once. Checkpoint saves go through
 * {@link SET_IF_HELD}, so a run that lost its lease (Redis restarted, a pause longer than the TTL)
 * fails its next save instead of overwriting another run's state.
 */
export class RedisLease implements CheckpointLock {
  private timer: NodeJS.Timeout | undefined;
  private released = false;
  /** Set when a renewal found the lease gone. */
  lost = false;

  private constructor(
    private readonly conn: RedisConnection,
    readonly key: string,
    /** The value stored under `key`: the holder as JSON (its token makes it unique). */
    readonly value: string,
    private readonly ttlMs: number,
  ) {}

  static async acquire(conn: RedisConnection, key: string, location: string, holder: LockHolder, o: LockOptions & { ttlMs?: number } = {}): Promise<RedisLease> {
    const ttl = o.ttlMs ?? DEFAULT_LEASE_MS;
    const value = JSON.stringify(holder);
    const deadline = Date.now() + (o.waitMs ?? 0);
    for (;;) {
      const set = await conn.run(`take the lock ${key}`, (client) => client.set(key, value, 'PX', ttl, 'NX'));
      if (set === 'OK') {
        const lease = new RedisLease(conn, key, value, ttl);
        lease.renewEvery(Math.max(100, Math.floor(ttl / 3)));
        return lease;
      }
      const current = await conn.run(`read the lock ${key}`, (client) => client.get(key));
      if (current === null) continue;
      const other = parseHolder(current);
      if (other && isStale(other)) {
        await conn.run(`clear the stale lock ${key}`, (client) => client.eval(DELETE_IF, 1, key, current));
        continue;
      }
      if (Date.now() >= deadline) {
        const how = `delete the key: redis-cli -u ${conn.endpoint.display} DEL ${key} (it also expires by itself within ${Math.ceil(ttl / 1000)} s of its run's end)`;
        throw new CheckpointLockedError(location, other, how);
      }
      // A stop while waiting (a worker's SIGTERM) must not wait out another run's lease first.
      await pauseForLock(250, location, o.signal);
    }
  }

  /** Who holds `key` now, if anyone (and not a dead process of this host). */
  static async holder(conn: RedisConnection, key: string): Promise<LockHolder | undefined> {
    const current = await conn.run(`read the lock ${key}`, (client) => client.get(key));
    if (current === null) return undefined;
    const holder = parseHolder(current);
    return holder && isStale(holder) ? undefined : (holder ?? { pid: 0, host: '?', startedAt: '?', token: '' });
  }

  private renewEvery(ms: number): void {
    let renewing = false;
    this.timer = setInterval(() => {
      if (renewing || this.released) return;
      renewing = true;
      this.conn
        .run(`renew the lock ${this.key}`, (client) => client.eval(RENEW, 1, this.key, this.value, String(this.ttlMs)))
        .then((ok) => {
          if (ok === 0) this.lost = true;
        })
        // Redis away for a moment: the next renewal tries again; saves are fenced either way.
        .catch(() => undefined)
        .finally(() => (renewing = false));
    }, ms);
    this.timer.unref();
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.conn.run(`release the lock ${this.key}`, (client) => client.eval(DELETE_IF, 1, this.key, this.value)).catch(() => undefined);
  }
}

