import type { Redis, RedisOptions } from 'ioredis';
import { messageOf, RedisEndpoint, withoutCredentials, type EndpointParseOptions } from './endpoint.js';

/** How long one command (queued while connecting included) may wait for its reply. */
export const COMMAND_TIMEOUT_MS = 5_000;
/** How long `close()` waits for QUIT before dropping the socket. */
const QUIT_TIMEOUT_MS = 1_000;

const CLIENT_OPTIONS: RedisOptions = {
  lazyConnect: true,
  connectTimeout: COMMAND_TIMEOUT_MS,
  commandTimeout: COMMAND_TIMEOUT_MS,
  // A command waits through at most three connection attempts (~0.3 s when the port refuses)
  // instead of forever; the offline queue stays on so a short blip does not fail a save.
  maxRetriesPerRequest: 2,
  enableOfflineQueue: true,
  retryStrategy: (times: number) => Math.min(times * 100, 1_000),
};

/**
 * One ioredis client and the endpoint it talks to. Every command goes through `run`, which turns
 * a failure into `redis checkpoint store at redis://host:port: cannot <action>: <reason>` with
 * no credential in the message or the cause.
 */
export class RedisConnection {
  private lastError: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly client: Redis,
    readonly endpoint: RedisEndpoint,
  ) {
    // Without a listener ioredis prints every connection error to stderr; keep the last one
    // instead, as the reason a queued command gave up.
    client.on('error', (error: Error) => {
      this.lastError = error;
    });
    client.on('ready', () => {
      this.lastError = undefined;
    });
  }

  /** Makes a client for `url` (not connected yet: the first command connects). */
  static async open(url: string | RedisEndpoint | undefined, parse: EndpointParseOptions = {}): Promise<RedisConnection> {
    if (url === undefined || url === '') throw new Error('checkpoint.store: redis needs checkpoint.url: redis://host:6379 (or ${env:REDIS_URL})');
    const endpoint = typeof url === 'string' ? RedisEndpoint.parse(url, parse) : url;
    const { Redis } = await import('ioredis');
    let client: Redis;
    try {
      client = new Redis({ ...endpoint.options, ...CLIENT_OPTIONS });
    } catch (error) {
      throw new Error(`redis checkpoint store at ${endpoint.display}: ${endpoint.scrub(messageOf(error))}`);
    }
    return new RedisConnection(client, endpoint);
  }

  /** Runs `command`; a failure becomes one clear, credential-free error. */
  async run<T>(action: string, command: (client: Redis) => Promise<T>): Promise<T> {
    if (this.closing) throw new Error(`redis checkpoint store at ${this.endpoint.display}: cannot ${action}: the store is closed`);
    try {
      return await command(this.client);
    } catch (error) {
      throw this.failure(action, error);
    }
  }

  private failure(action: string, error: unknown): Error {
    const own = messageOf(error);
    const last = this.lastError ? messageOf(this.lastError) : undefined;
    let reason: string;
    let unreachable = true;
    if ((error as Error)?.name === 'MaxRetriesPerRequestError') reason = `cannot connect (${last ?? 'connection failed'})`;
    else if (own === 'Command timed out') reason = `no reply within ${COMMAND_TIMEOUT_MS / 1000} s${last ? ` (${last})` : ''}`;
    else if (own === 'Connection is closed.') reason = `connection closed${last ? ` (${last})` : ''}`;
    else {
      reason = own;
      unreachable = /ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ECONNRESET/.test(own);
    }
    const hint = unreachable ? '; check that Redis is running and checkpoint.url points at it' : '';
    const message = `redis checkpoint store at ${this.endpoint.display}: cannot ${action}: ${this.endpoint.scrub(reason)}${hint}`;
    return new Error(message, { cause: withoutCredentials(error) });
  }

  /** QUITs politely, or drops the socket when Redis does not answer within a second. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const client = this.client;
      if (client.status === 'ready') {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
          timer.unref();
        });
        await Promise.race([client.quit().catch(() => undefined), timeout]);
        clearTimeout(timer);
      }
      // After QUIT this only stops reconnecting; otherwise it closes the socket and fails what is queued.
      client.disconnect();
    })();
    return this.closing;
  }
}
