import type { Ledger } from '@sluice/core';
import type { RedisConnection } from './connection.js';

/** Members per SADD when many adds arrive at once. */
const ADD_BATCH = 1000;
/** Members asked for per SSCAN while opening. */
const SCAN_COUNT = 1000;

interface PendingAdd {
  readonly key: string;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A ledger as one Redis set. Opening loads every member (SSCAN, page by page) so `has` is
 * synchronous; `add` resolves once Redis acknowledged the SADD, and adds that arrive while one is
 * in flight share the next SADD. The set belongs to the job, not to a partition: two partitions
 * holding the same key at the same moment could both act on it (partitions normally split keys).
 */
export class RedisLedger implements Ledger {
  private readonly keys = new Set<string>();
  /** Keys whose SADD has not been acknowledged yet: `add` of one of them waits for it too. */
  private readonly unconfirmed = new Map<string, Promise<void>>();
  private pending: PendingAdd[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly conn: RedisConnection,
    /** The Redis key of the set. */
    readonly key: string,
  ) {}

  /** Loads the set at `key` (it may not exist yet) through the store's shared connection. */
  static async open(conn: RedisConnection, key: string): Promise<RedisLedger> {
    const ledger = new RedisLedger(conn, key);
    await conn.run(`load ledger ${key}`, async (client) => {
      let cursor = '0';
      do {
        const [next, members] = await client.sscan(key, cursor, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (const member of members) ledger.keys.add(member);
      } while (cursor !== '0');
    });
    return ledger;
  }

  get size(): number {
    return this.keys.size;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): Promise<void> {
    const waiting = this.unconfirmed.get(key);
    if (waiting) return waiting;
    if (this.keys.has(key)) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`ledger ${this.key} is closed`));
    this.keys.add(key);
    const added = new Promise<void>((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
    });
    this.unconfirmed.set(key, added);
    this.flushing ??= this.flush();
    return added;
  }

  private async flush(): Promise<void> {
    while (this.pending.length) {
      const batch = this.pending.splice(0, ADD_BATCH);
      try {
        await this.conn.run(`add to ledger ${this.key}`, (client) => client.sadd(this.key, ...batch.map((p) => p.key)));
        for (const p of batch) {
          this.unconfirmed.delete(p.key);
          p.resolve();
        }
      } catch (error) {
        for (const p of batch) {
          this.unconfirmed.delete(p.key);
          this.keys.delete(p.key);
          p.reject(error);
        }
      }
    }
    this.flushing = undefined;
  }

  /** Waits for adds in flight; the connection is the store's and stays open. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
  }
}
