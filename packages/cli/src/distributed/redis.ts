import { Redis, type RedisOptions } from 'ioredis';
import { RedisEndpoint, redisErrorText } from '@sluice/plugin-redis';

export { redisErrorText };

/**
 * The Redis a distributed run talks to (`--workers URL`, `--queue URL`): the redis plugin's
 * endpoint (the one parser of Redis URLs: ACL users, `rediss://` with a CA file), plus the
 * clients the coordinator and the workers need.
 */
export class RedisTarget {
  private constructor(readonly endpoint: RedisEndpoint) {}

  /** Parses `url` for `flag`; `ca` is `--redis-ca`. The error never repeats the URL. */
  static parse(url: string, flag: string, ca?: string): RedisTarget {
    return new RedisTarget(RedisEndpoint.parse(url, { setting: flag, ...(ca !== undefined ? { ca } : {}) }));
  }

  /** `redis://host:port[/db]`: what every message names. */
  get display(): string {
    return this.endpoint.display;
  }

  /** Connection options for ioredis and BullMQ (credentials and TLS included). */
  get options(): RedisOptions {
    return this.endpoint.options;
  }

  /** Replaces the URL's password (and the URL itself) in `text`. */
  scrub(text: string): string {
    return this.endpoint.scrub(text);
  }

  /** A plain client that gives up on a command quickly while Redis is away (the caller retries). */
  client(name?: string): Redis {
    const client = new Redis({
      ...this.options,
      lazyConnect: true,
      connectTimeout: 3000,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(times * 200, 2000),
      ...(name ? { connectionName: name } : {}),
    });
    // Errors reach the commands that fail; without a listener ioredis prints each one.
    client.on('error', () => {});
    return client;
  }

  /** Connects once and PINGs; resolves to why it failed, or undefined when Redis answered. */
  async unreachable(timeoutMs = 3000): Promise<string | undefined> {
    const client = new Redis({ ...this.options, lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    let last: Error | undefined;
    client.on('error', (error: Error) => (last = error));
    try {
      await client.connect();
      await client.ping();
      return undefined;
    } catch (error) {
      const own = redisErrorText(error);
      return this.scrub(own === 'Connection is closed.' && last ? redisErrorText(last) : own);
    } finally {
      client.disconnect();
    }
  }
}
