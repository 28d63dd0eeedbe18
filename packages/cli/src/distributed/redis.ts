import { Redis, type RedisOptions } from 'ioredis';
import { messageOf } from '@sluice/core/internal';

/**
 * The Redis a distributed run talks to (`--workers URL`, `--queue URL`): connection options for
 * ioredis and BullMQ, and a name for messages without credentials (`redis://host:6379`).
 */
export class RedisTarget {
  private constructor(
    /** The URL as given: for clients only, never for messages. */
    readonly url: string,
    /** `redis://host:port[/db]`: what every message names. */
    readonly display: string,
    readonly options: RedisOptions,
    private readonly secrets: readonly string[],
  ) {}

  /** Parses `redis://[user:password@]host[:port][/db]` (or `rediss://`); the error never repeats the URL. */
  static parse(url: string, flag: string): RedisTarget {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`${flag}: not a valid URL; expected redis://[user:password@]host:6379[/db]`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new Error(`${flag}: must start with redis:// or rediss:// (got ${parsed.protocol}//…)`);
    }
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text);
      } catch {
        return text;
      }
    };
    const password = decode(parsed.password);
    const username = decode(parsed.username);
    const secrets = [...new Set([parsed.password, password].filter((s) => s.length >= 3))].sort((a, b) => b.length - a.length);
    const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = parsed.port ? Number(parsed.port) : 6379;
    const dbMatch = /^\/(\d+)$/.exec(parsed.pathname);
    if (parsed.pathname && parsed.pathname !== '/' && !dbMatch) throw new Error(`${flag}: the path must be a database number (redis://host:6379/0)`);
    const db = dbMatch ? Number(dbMatch[1]) : 0;
    const options: RedisOptions = {
      host,
      port,
      db,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    };
    const display = `${parsed.protocol}//${parsed.hostname || '127.0.0.1'}:${port}${db ? `/${db}` : ''}`;
    return new RedisTarget(url, display, options, secrets);
  }

  /** Replaces the URL's password (and the URL itself) in `text`. */
  scrub(text: string): string {
    let out = text.split(this.url).join(this.display);
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
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

/** An error's text, AggregateErrors (a host with IPv4 and IPv6) included. */
export function redisErrorText(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return error.errors.map(redisErrorText).join('; ');
  return messageOf(error) || String((error as NodeJS.ErrnoException)?.code ?? error);
}
