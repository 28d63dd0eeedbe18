import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { defineSink, defineSource, type Checkpoint, type CheckpointStore, type CheckpointStoreOptions } from '@sluice/core';
import { formatDiagnostic, JobRun, loadJobText, PluginRegistry } from '@sluice/core/internal';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clearRunCheckpoints, redisCheckpointStore, RedisCheckpointStore, redisStore } from './index.js';
import { COMMAND_TIMEOUT_MS } from './connection.js';

// Needs the Redis on this machine; fails loudly when it is not running.
const URL = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PASSWORD = 's3cret-pa55word';

let raw: Redis;
let prefix: string;
const open: CheckpointStore[] = [];

beforeAll(async () => {
  raw = new Redis(URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
});
afterAll(async () => {
  await raw.quit();
});
beforeEach(() => {
  prefix = `sluice-test-${randomUUID()}`;
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close?.()));
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await raw.del(...keys);
  } while (cursor !== '0');
});

function optionsOf(job: string, extra: Partial<CheckpointStoreOptions> & { url?: string; prefix?: string } = {}): CheckpointStoreOptions {
  const { url = URL, prefix: p = prefix, ...rest } = extra;
  return { job, dir: '.', config: { store: 'redis', url, prefix: p }, connections: {} as never, fingerprint: 'fp1', ...rest };
}

async function storeOf(job: string, extra: Parameters<typeof optionsOf>[1] = {}): Promise<RedisCheckpointStore> {
  const store = (await redisStore.create(optionsOf(job, extra) as never)) as RedisCheckpointStore;
  open.push(store);
  return store;
}

function checkpoint(job: string, seq: number, fingerprint = 'fp1'): Checkpoint {
  const zero = { read: 0, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 };
  return { version: 1, job, fingerprint, seq, cursor: { at: seq }, batchSize: 10, sinks: { out: { size: seq } }, deadLetter: undefined, counters: zero, steps: {}, done: false, updatedAt: new Date(0).toISOString() };
}

// `unknown`: checking a define* result against AnyPluginDefinition can hit TS2589.
function registryOf(...plugins: unknown[]): PluginRegistry {
  const registry = new PluginRegistry();
  for (const plugin of plugins) expect(registry.add(plugin, 'test')).toEqual([]);
  return registry;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('redis checkpoint store', () => {
  it('saves, loads and clears a checkpoint with one key', async () => {
    const store = await storeOf('hello');
    expect(store.location).toBe(`redis://127.0.0.1:6379 ${prefix}:checkpoint:hello`);
    expect(await store.load()).toBeUndefined();
    await store.save(checkpoint('hello', 1));
    await store.save(checkpoint('hello', 2));
    expect(await store.load()).toEqual(checkpoint('hello', 2));
    expect(JSON.parse((await raw.get(`${prefix}:checkpoint:hello`))!)).toMatchObject({ seq: 2, fingerprint: 'fp1' });
    await store.clear();
    expect(await store.load()).toBeUndefined();
    expect(await raw.exists(`${prefix}:checkpoint:hello`)).toBe(0);
  });

  it('keeps local and partition checkpoints apart, the fingerprint in partition keys', async () => {
    const local = await storeOf('hello');
    const p0 = await storeOf('hello', { partition: 0 });
    const p1 = await storeOf('hello', { partition: 1 });
    const p0next = await storeOf('hello', { partition: 0, fingerprint: 'fp2' });
    expect(p0.location).toBe(`redis://127.0.0.1:6379 ${prefix}:checkpoint:hello:fp1:p0`);
    await local.save(checkpoint('hello', 5));
    await p0.save(checkpoint('hello', 10));
    await p1.save(checkpoint('hello', 11));
    expect((await local.load())!.seq).toBe(5);
    expect((await p0.load())!.seq).toBe(10);
    expect((await p1.load())!.seq).toBe(11);
    expect(await p0next.load()).toBeUndefined();
    await p0.clear();
    expect(await p0.load()).toBeUndefined();
    expect((await p1.load())!.seq).toBe(11);
    expect((await local.load())!.seq).toBe(5);
  });

  it('defaults the prefix to sluice', async () => {
    const store = (await redisStore.create({ ...optionsOf('x'), config: { store: 'redis', url: URL } } as never)) as RedisCheckpointStore;
    open.push(store);
    expect(store.key).toBe('sluice:checkpoint:x');
  });

  it('clearRunCheckpoints removes the partitions of a job, of one fingerprint or all', async () => {
    const stores = {
      f1p0: await storeOf('job-a', { partition: 0 }),
      f1p1: await storeOf('job-a', { partition: 1 }),
      f2p0: await storeOf('job-a', { partition: 0, fingerprint: 'fp2' }),
      local: await storeOf('job-a'),
      longer: await storeOf('job-a-b', { partition: 0 }),
      other: await storeOf('job-b', { partition: 0 }),
    };
    for (const [i, store] of Object.values(stores).entries()) await store.save(checkpoint('x', i));
    await (await stores.local.ledger('mails')).add('a@example.com');

    expect(await clearRunCheckpoints(URL, prefix, 'job-a', 'fp1')).toBe(2);
    expect(await stores.f1p0.load()).toBeUndefined();
    expect(await stores.f1p1.load()).toBeUndefined();
    expect(await stores.f2p0.load()).toBeDefined();

    expect(await clearRunCheckpoints(URL, prefix, 'job-a')).toBe(1);
    expect(await stores.f2p0.load()).toBeUndefined();
    expect(await stores.local.load()).toBeDefined();
    expect(await stores.longer.load()).toBeDefined();
    expect(await stores.other.load()).toBeDefined();
    expect(await raw.sismember(`${prefix}:ledger:job-a:mails`, 'a@example.com')).toBe(1);
  });

  it('redisCheckpointStore ignores the job file url and prefix', async () => {
    const factory = redisCheckpointStore({ url: URL, prefix });
    const store = (await factory(optionsOf('hello', { url: `redis://127.0.0.1:${await closedPort()}`, prefix: 'elsewhere', partition: 3 }))) as RedisCheckpointStore;
    open.push(store);
    expect(store.key).toBe(`${prefix}:checkpoint:hello:fp1:p3`);
    await store.save(checkpoint('hello', 1));
    expect(await raw.exists(`${prefix}:checkpoint:hello:fp1:p3`)).toBe(1);
  });

  it('refuses a missing or malformed url without repeating it', async () => {
    await expect(Promise.resolve(redisStore.create({ ...optionsOf('x'), config: { store: 'redis' } } as never))).rejects.toThrow(
      'checkpoint.store: redis needs checkpoint.url',
    );
    const error = await Promise.resolve(redisStore.create(optionsOf('x', { url: `http://u:${PASSWORD}@host` }) as never)).catch((e: Error) => e);
    expect((error as Error).message).toBe('checkpoint.url: must start with redis:// or rediss:// (got http://…)');
  });
});

describe('redis ledger', () => {
  it('adds, answers has synchronously, and a reopened ledger sees the keys', async () => {
    const store = await storeOf('mailer');
    const ledger = await store.ledger!('mails');
    expect(ledger.has('a@example.com')).toBe(false);
    await ledger.add('a@example.com');
    await ledger.add('a@example.com');
    expect(ledger.has('a@example.com')).toBe(true);
    expect(ledger.size).toBe(1);
    await ledger.close();
    // The ledger shares the store's client: closing it leaves the store working.
    await store.save(checkpoint('mailer', 1));

    const again = await (await storeOf('mailer', { partition: 2, fingerprint: 'other' })).ledger!('mails');
    expect(again.has('a@example.com')).toBe(true);
    expect((await store.ledger!('other')).size).toBe(0);
  });

  it('loads a ledger of 10k keys', async () => {
    const key = `${prefix}:ledger:big:sent`;
    const keys = Array.from({ length: 10_000 }, (_, i) => `key-${i}`);
    for (let i = 0; i < keys.length; i += 2000) await raw.sadd(key, ...keys.slice(i, i + 2000));
    const ledger = await (await storeOf('big')).ledger!('sent');
    expect(ledger.size).toBe(10_000);
    expect(ledger.has('key-0')).toBe(true);
    expect(ledger.has('key-9999')).toBe(true);
    expect(ledger.has('key-10000')).toBe(false);
  });

  it('makes every concurrent add durable before it resolves', async () => {
    const ledger = await (await storeOf('mailer')).ledger!('mails');
    const keys = Array.from({ length: 2500 }, (_, i) => `user-${i}@example.com`);
    const checks: Array<Promise<number>> = [];
    await Promise.all(
      keys.map(async (key, i) => {
        await ledger.add(key);
        // Checked right after each add resolves, while later adds are still in flight.
        if (i % 250 === 0) checks.push(raw.sismember(`${prefix}:ledger:mailer:mails`, key));
      }),
    );
    expect(await Promise.all(checks)).toEqual(Array(10).fill(1));
    expect(await raw.scard(`${prefix}:ledger:mailer:mails`)).toBe(2500);
    expect(ledger.size).toBe(2500);
  });

  it('clearLedgers deletes every ledger of the job and no other', async () => {
    const store = await storeOf('mailer');
    await (await store.ledger!('mails')).add('a');
    await (await store.ledger!('sms')).add('b');
    await (await (await storeOf('mailer-2')).ledger!('mails')).add('c');
    await store.save(checkpoint('mailer', 1));
    await store.clearLedgers!();
    expect(await raw.exists(`${prefix}:ledger:mailer:mails`, `${prefix}:ledger:mailer:sms`)).toBe(0);
    expect(await raw.exists(`${prefix}:ledger:mailer-2:mails`)).toBe(1);
    expect(await store.load()).toBeDefined();
    expect((await store.ledger!('mails')).has('a')).toBe(false);
  });
});

/**
 * close() of a store whose connection never became ready drops the socket at once: it settles
 * before a timer as long as the QUIT timeout, started first, fires. Timers fire in order of
 * expiry, so a close that waited for QUIT would lose this race however loaded the machine is.
 */
async function closesWithoutWaitingForQuit(store: { close(): Promise<void> }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const quitTimeout = new Promise<'timer'>((resolve) => (timer = setTimeout(() => resolve('timer'), 1_000)));
  const first = await Promise.race([store.close().then(() => 'closed' as const), quitTimeout]);
  clearTimeout(timer);
  expect(first).toBe('closed');
}

describe('redis run lease', () => {
  it('a second run is refused naming the holder; a run that lost its lease cannot save', async () => {
    const first = await storeOf('leased');
    const second = await storeOf('leased');
    const holder = { pid: process.pid, host: 'this-test', startedAt: '2026-01-01T00:00:00.000Z', token: randomUUID() };
    const lock = await first.lock(holder);
    const refused = (await second.lock({ ...holder, token: randomUUID() }).catch((e: unknown) => e)) as Error;
    expect(refused.name).toBe('CheckpointLockedError');
    expect(refused.message).toContain(`pid ${process.pid} on host this-test since 2026-01-01T00:00:00.000Z`);
    expect(refused.message).toContain(`DEL ${prefix}:checkpoint:leased:lock`);
    expect(await second.lockHolder()).toMatchObject({ host: 'this-test' });
    await first.save(checkpoint('leased', 1));

    // Another run took over (the lease expired while this one paused): this one's saves stop.
    await raw.set(`${prefix}:checkpoint:leased:lock`, JSON.stringify({ ...holder, token: 'someone-else' }));
    await expect(first.save(checkpoint('leased', 2))).rejects.toThrow(/this run lost its lock/);
    expect(JSON.parse((await raw.get(`${prefix}:checkpoint:leased`))!)).toMatchObject({ seq: 1 });
    await lock.release();
    expect(await raw.get(`${prefix}:checkpoint:leased:lock`)).toContain('someone-else');
  });
});

describe('redis failures', () => {
  it('an unreachable Redis fails load, save and ledgers fast, with no password in sight', async () => {
    const port = await closedPort();
    const store = await storeOf('hello', { url: `redis://:${PASSWORD}@127.0.0.1:${port}/2` });
    expect(store.location).toBe(`redis://127.0.0.1:${port}/2 ${prefix}:checkpoint:hello`);

    const error = (await store.load().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    // Fast: it gave up after its connection retries, not by waiting out the 5 s command timeout.
    expect(error.message).toContain('cannot connect (');
    expect(error.message).not.toContain('no reply within');
    expect(error.message).toMatch(new RegExp(`^redis checkpoint store at redis://127\\.0\\.0\\.1:${port}/2: cannot load checkpoint \\S+: `));
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).not.toMatch(/\n\s+at /);
    expect(inspect(error, { depth: 10 })).not.toContain(PASSWORD);

    for (const failing of [store.save(checkpoint('hello', 1)), store.ledger('mails')]) {
      const e = (await failing.then(() => undefined, (x: unknown) => x)) as Error;
      expect(e.message).toMatch(/^redis checkpoint store at redis:\/\/127\.0\.0\.1:\d+\/2: cannot /);
      expect(inspect(e, { depth: 10 })).not.toContain(PASSWORD);
    }
    await closesWithoutWaitingForQuit(store);
  });

  it('a Redis that goes away mid-run fails the next save within seconds', async () => {
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1');
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as { port: number }).port;
    const store = await storeOf('hello', { url: `redis://127.0.0.1:${port}` });
    const ledger = await store.ledger('mails');
    await store.save(checkpoint('hello', 1));
    proxy.close();
    for (const socket of sockets) socket.destroy();

    const saving = (await store.save(checkpoint('hello', 2)).catch((e: unknown) => e)) as Error;
    expect(saving.message).toContain(`redis checkpoint store at redis://127.0.0.1:${port}: cannot save checkpoint`);
    const adding = (await ledger.add('a@example.com').catch((e: unknown) => e)) as Error;
    expect(adding.message).toMatch(/cannot add to ledger/);
    expect(ledger.has('a@example.com')).toBe(false);
    // Within seconds: both failed on the lost connection, neither by waiting out the 5 s command timeout.
    for (const e of [saving, adding]) expect(e.message).not.toContain('no reply within');
    expect(JSON.parse((await raw.get(`${prefix}:checkpoint:hello`))!)).toMatchObject({ seq: 1 });
  });

  it('a server that never answers fails load after the command timeout', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const store = await storeOf('hello', { url: `redis://:${PASSWORD}@127.0.0.1:${port}` });
      const started = performance.now();
      const error = (await store.load().catch((e: unknown) => e)) as Error;
      // A lower bound only (a timer never fires early by more than a millisecond); the test's
      // timeout bounds it from above.
      expect(performance.now() - started).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5);
      expect(error.message).toBe(
        `redis checkpoint store at redis://127.0.0.1:${port}: cannot load checkpoint ${prefix}:checkpoint:hello: no reply within 5 s; ` +
          'check that Redis is running and checkpoint.url points at it',
      );
      await closesWithoutWaitingForQuit(store);
    } finally {
      silent.close();
    }
  });

  it('a refused login names the reason, not the password', async () => {
    const store = await storeOf('hello', { url: `redis://nobody-${randomUUID()}:${PASSWORD}@127.0.0.1:6379` });
    const error = (await store.load().catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^redis checkpoint store at redis:\/\/127\.0\.0\.1:6379: cannot load checkpoint \S+: WRONGPASS/);
    expect(inspect(error, { depth: 10 })).not.toContain(PASSWORD);
  });

  it('a store that was never used closes at once', async () => {
    const store = await storeOf('hello', { url: `redis://127.0.0.1:${await closedPort()}` });
    await store.close();
    await expect(store.load()).rejects.toThrow(/the store is closed/);
  });
});

describe('a job run through the redis store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-redis-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('checkpoints to Redis and resumes without re-reading', async () => {
    const reads: unknown[] = [];
    const written: number[] = [];
    const source = defineSource({
      name: 'count',
      description: 'ids 0..49',
      schema: { type: 'object' },
      create: () => ({
        async *read({ cursor, batchSize }) {
          reads.push(cursor);
          for (let at = (cursor as number | undefined) ?? 0; at < 50; at += batchSize) {
            const records = Array.from({ length: Math.min(batchSize, 50 - at) }, (_, i) => ({ id: at + i }));
            yield { records, cursor: at + records.length };
          }
        },
      }),
    });
    const sink = defineSink({
      name: 'keep',
      description: 'remembers ids',
      schema: { type: 'object' },
      create: (_config, ctx) => {
        let count = (ctx.state as number | undefined) ?? 0;
        written.length = count;
        return {
          async write(records) {
            written.push(...records.map((r) => r.id as number));
            count += records.length;
          },
          state: () => count,
        };
      },
    });
    const deadLetter = defineSink({ name: 'dl', description: 'drops dead letters', schema: { type: 'object' }, create: () => ({ async write() {} }) });
    const registry = registryOf(source, sink, deadLetter, redisStore);
    const text = `
version: 1
name: redis-run
batch: { size: 10, inFlight: 2 }
checkpoint: { store: redis, url: "\${env:REDIS_URL}", prefix: ${prefix} }
source: { use: count }
sink: { id: out, use: keep }
deadLetter: { use: dl }
`;
    const { plan, diagnostics } = await loadJobText(text, { registry, dir, env: { REDIS_URL: URL } });
    if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));

    const first = await new JobRun(plan).run();
    expect(first.status).toBe('done');
    expect(written).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const saved = JSON.parse((await raw.get(`${prefix}:checkpoint:redis-run`))!) as Checkpoint;
    expect(saved).toMatchObject({ done: true, cursor: 50, fingerprint: plan.fingerprint, sinks: { out: 50 } });
    expect(saved.counters.read).toBe(50);

    const second = await new JobRun(plan).run();
    expect(second.status).toBe('done');
    expect(second.resumed).toBe(true);
    expect(second.thisRun.read).toBe(0);
    expect(reads).toEqual([undefined, 50]);
    expect(written).toHaveLength(50);
  });
});
