import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RedisOptions } from 'ioredis';
import { Redactor } from '@sluice/core';

/** How a caller names the setting a URL came from in messages: `--workers`, `checkpoint.url`. */
export interface EndpointParseOptions {
  /** The flag or job key, for messages (default `checkpoint.url`). */
  readonly setting?: string;
  /** A PEM file of the certificate authority that signed the server's certificate (`rediss://` only). */
  readonly ca?: string;
  /** Where a relative `ca` path resolves from (default: the working directory). */
  readonly dir?: string;
}

/**
 * A Redis server as Sluice connects to it and names it: the one parser of Redis URLs for the
 * coordinator, the workers and the `redis` checkpoint store.
 *
 * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). `user` is a Redis ACL user
 * (none: the `default` user). A CA file for a server whose certificate no public authority signed
 * comes from `options.ca` (`--redis-ca`) or the URL's `?ca=/path/ca.pem`. Messages only ever name
 * {@link display} (`rediss://host:6380/2`): never the user's password, nor the URL itself.
 */
export class RedisEndpoint {
  private constructor(
    /** `redis://host:port[/db]` or `rediss://…`, never a credential. */
    readonly display: string,
    /** Connection options for ioredis and BullMQ. */
    readonly options: RedisOptions,
    private readonly redactor: Redactor,
    private readonly url: string,
  ) {}

  /** Parses `url`; the error never repeats the URL, which may hold a password. */
  static parse(url: string | undefined, o: EndpointParseOptions = {}): RedisEndpoint {
    const setting = o.setting ?? 'checkpoint.url';
    if (!url) throw new Error(`${setting}: missing; expected redis://[user:password@]host:6379[/db] (or \${env:REDIS_URL})`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`${setting}: not a valid URL; expected redis://[user:password@]host:6379[/db]`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
      throw new Error(`${setting}: must start with redis:// or rediss:// (got ${parsed.protocol}//…)`);
    }
    const tls = parsed.protocol === 'rediss:';
    const decode = (text: string) => {
      try {
        return decodeURIComponent(text);
      } catch {
        // A malformed escape: taken as written, which is all a message could contain.
        return text;
      }
    };
    const password = decode(parsed.password);
    const username = decode(parsed.username);

    const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
    const port = parsed.port ? Number(parsed.port) : 6379;
    const dbMatch = /^\/(\d+)$/.exec(parsed.pathname);
    if (parsed.pathname && parsed.pathname !== '/' && !dbMatch) throw new Error(`${setting}: the path must be a database number (redis://host:6379/0)`);
    const db = dbMatch ? Number(dbMatch[1]) : 0;
    for (const key of parsed.searchParams.keys()) {
      if (key !== 'ca') throw new Error(`${setting}: unknown URL parameter '${key}' (only ?ca=/path/to/ca.pem, for rediss://)`);
    }
    const caPath = o.ca ?? parsed.searchParams.get('ca') ?? undefined;
    if (caPath !== undefined && !tls) throw new Error(`${setting}: a CA file only applies to TLS; use rediss://`);
    const display = `${parsed.protocol}//${parsed.hostname || '127.0.0.1'}:${port}${db ? `/${db}` : ''}`;

    let tlsOptions: RedisOptions['tls'];
    if (tls) {
      tlsOptions = {};
      if (caPath !== undefined) {
        const path = resolve(o.dir ?? '.', caPath);
        try {
          tlsOptions.ca = readFileSync(path);
        } catch (error) {
          throw new Error(`${setting}: cannot read the CA file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
      }
      // Certificates name hosts; an IP address is checked against the certificate's IP entries instead.
      if (!/^[\d.]+$|:/.test(host)) tlsOptions.servername = host;
    }
    const options: RedisOptions = {
      host,
      port,
      db,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(tlsOptions ? { tls: tlsOptions } : {}),
    };
    return new RedisEndpoint(display, options, Redactor.forUrl(url), url);
  }

  /** Replaces the URL (and its password, in every encoding) in `text`. */
  scrub(text: string): string {
    return this.redactor.redact(text.split(this.url).join(this.display));
  }
}

/** The text of an error, AggregateErrors (a host with IPv4 and IPv6) included. */
export function messageOf(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return error.errors.map(messageOf).join('; ');
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error ?? '');
}

/**
 * ioredis attaches the failed command to a reply error: for AUTH and HELLO its arguments are the
 * credentials. Replaces them so the error can be logged or kept as a cause.
 */
export function withoutCredentials<T>(error: T): T {
  const command = (error as { command?: { name?: unknown; args?: unknown } } | undefined)?.command;
  if (command && typeof command === 'object' && /^(auth|hello|migrate)$/i.test(String(command.name))) {
    (error as { command: unknown }).command = { name: command.name, args: ['***'] };
  }
  return error;
}
