import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Redactor, type ConnectionConfig, type ConnectionRegistry, type OpenedConnection } from '@sluice/core';
import type { Knex } from 'knex';
import { dialectOf, exactNumeric, type Dialect } from './dialect.js';
import { classify, describeError } from './errors.js';
import { DEFAULT_POLICY, type RetryPolicy } from './retry.js';
import { sqlitePragmas } from './sqlite-pragmas.js';

/** The clients a `connections:` entry may name. */
export const CLIENTS = ['pg', 'mysql2', 'better-sqlite3'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Keys of a `connections:` entry this plugin understands besides `client` and `url`. */
const FIELDS = ['host', 'port', 'user', 'password', 'database', 'filename', 'ssl', 'pool', 'schema'] as const;

/**
 * One open named connection: a knex pool and what the plugin learned about its database. Shared
 * by every step of a run that names it (and by the `sql` checkpoint store), destroyed at run end.
 */
export class SqlConnection {
  /** Promises of work done once per connection (system tables). */
  readonly once = new Map<string, Promise<unknown>>();
  /**
   * The most patient retry policy of the steps on this connection: what the connection's own work
   * (the `sql` checkpoint store) retries a lost connection with.
   */
  retryPolicy: RetryPolicy = DEFAULT_POLICY;

  /** A step on this connection retries with `policy`; the checkpoint store retries at least as long. */
  useRetry(policy: RetryPolicy | undefined): void {
    if (policy && policy.attempts > this.retryPolicy.attempts) this.retryPolicy = policy;
  }

  constructor(
    readonly name: string,
    readonly knex: Knex,
    readonly dialect: Dialect,
    private readonly redactor: Redactor,
  ) {}

  /** Work to end before the pool closes (the SQLite writer thread), in the order registered. */
  private readonly closers: Array<() => Promise<void>> = [];

  /** Runs `fn` when the connection closes, before its pool is destroyed. */
  onClose(fn: () => Promise<void>): void {
    this.closers.push(fn);
  }

  /** Ends what was registered with {@link onClose}, then the pool; a closer's failure does not keep the pool open. */
  async close(): Promise<void> {
    let failure: unknown;
    for (const fn of this.closers.splice(0)) await fn().catch((error: unknown) => (failure ??= error));
    await this.knex.destroy();
    if (failure !== undefined) throw failure;
  }

  /** Removes the URL and password of this connection, in any encoding, from a message. */
  scrub(text: string): string {
    return this.redactor.redact(text);
  }

  /** Runs `fn` once per connection (e.g. creating the marker tables); later callers share its promise. */
  onlyOnce<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let pending = this.once.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = fn();
      this.once.set(key, pending);
      pending.catch(() => this.once.delete(key));
    }
    return pending;
  }

  /** Borrows one raw driver connection from the pool for `fn` (a pg Client, a mysql2 Connection or a better-sqlite3 Database). */
  async withRaw<T>(fn: (raw: unknown) => Promise<T>): Promise<T> {
    const client = this.knex.client as { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> };
    let raw = await client.acquireConnection();
    // A pg client whose session was ended under it is unqueryable before it reports 'end' (which
    // is what the pool checks): let the pool drop it and take another.
    for (let i = 0; i < 3 && (raw as { _queryable?: boolean } | undefined)?._queryable === false; i++) {
      (raw as { __knex__disposed?: unknown }).__knex__disposed ??= 'connection lost';
      await client.releaseConnection(raw);
      raw = await client.acquireConnection();
    }
    try {
      return await fn(raw);
    } catch (error) {
      // A connection that failed with a lost or broken session is not handed out again: the driver
      // may report 'end' only after the pool has it back, and the next batch would get a dead one.
      if (classify(error) === 'transient' && raw && typeof raw === 'object') (raw as { __knex__disposed?: unknown }).__knex__disposed ??= error;
      throw error;
    } finally {
      await client.releaseConnection(raw);
    }
  }
}

/** The secrets of a connection config: its URL (the redactor hides its password too) and a password field. */
function secretsOf(config: ConnectionConfig): string[] {
  return [config.url, config.password].filter((s): s is string => typeof s === 'string' && s !== '');
}

/** A SQLite file from `url` (`sqlite:path`, `file:path` or a plain path) or `filename`, resolved from the job's folder. */
function sqliteFile(config: ConnectionConfig, dir: string): string {
  let file = typeof config.filename === 'string' ? config.filename : typeof config.url === 'string' ? config.url : undefined;
  if (!file) throw new Error('a better-sqlite3 connection needs url or filename (the database file, e.g. out/demo.db)');
  file = file.replace(/^(sqlite3?|file):(\/\/)?/, '');
  if (file === ':memory:') return file;
  return isAbsolute(file) ? file : resolve(dir, file);
}

function mysqlSettings(config: ConnectionConfig): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  if (typeof config.url === 'string' && config.url) {
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new Error('url is not a valid URL (expected mysql://user:password@host:port/database)');
    }
    if (!/^(mysql|mariadb|mysql2):$/.test(url.protocol)) throw new Error(`url must start with mysql:// (got ${url.protocol}//…)`);
    settings.host = url.hostname;
    if (url.port) settings.port = Number(url.port);
    if (url.username) settings.user = decodeURIComponent(url.username);
    if (url.password) settings.password = decodeURIComponent(url.password);
    const database = url.pathname.replace(/^\//, '');
    if (database) settings.database = decodeURIComponent(database);
  }
  return settings;
}

/** The knex config for a named connection; the pool is sized to `demand` (+1 for the checkpoint store). */
export function knexConfig(config: ConnectionConfig, demand: number, dir: string): Knex.Config {
  const client = config.client as ClientName | undefined;
  if (!client || !(CLIENTS as readonly string[]).includes(client)) {
    throw new Error(`client must be one of ${CLIENTS.join(', ')} (got ${client === undefined ? 'nothing' : JSON.stringify(client)})`);
  }
  const fields: Record<string, unknown> = {};
  for (const key of FIELDS) if (config[key] !== undefined && key !== 'pool' && key !== 'filename' && key !== 'schema') fields[key] = config[key];
  const poolConfig = (config.pool ?? {}) as { min?: number; max?: number };
  // At least 3: a source, a sink and the checkpoint store may each hold one at once.
  const max = poolConfig.max ?? Math.max(3, demand + 1);
  const silent = { warn() {}, error() {}, deprecate() {}, debug() {} };
  const common = { log: silent, acquireConnectionTimeout: 30_000 };
  switch (client) {
    case 'pg':
      return {
        ...common,
        client: 'pg',
        connection: {
          ...(typeof config.url === 'string' && config.url ? { connectionString: config.url } : {}),
          ...fields,
          connectionTimeoutMillis: 10_000,
        },
        ...(typeof config.schema === 'string' ? { searchPath: [config.schema] } : {}),
        pool: {
          min: poolConfig.min ?? 0,
          max,
          afterCreate(conn: { setTypeParser?: (oid: number, fmt: string, fn: (v: string) => unknown) => void }, done: (e: Error | null, c: unknown) => void) {
            // bigint and numeric: a number while a double holds it exactly, else a BigInt (whole) or
            // its digits (decimal); dates and zoneless timestamps stay as written.
            conn.setTypeParser?.(20, 'text', exactNumeric);
            conn.setTypeParser?.(1700, 'text', exactNumeric);
            conn.setTypeParser?.(1082, 'text', (v) => v);
            conn.setTypeParser?.(1114, 'text', (v) => v);
            done(null, conn);
          },
        },
      };
    case 'mysql2':
      return {
        ...common,
        client: 'mysql2',
        connection: {
          ...mysqlSettings(config),
          ...fields,
          connectTimeout: 10_000,
          timezone: 'Z',
          supportBigNumbers: true,
          charset: 'utf8mb4',
          typeCast(field: { type: string; length: number; string(): string | null }, next: () => unknown) {
            if (field.type === 'TINY' && field.length === 1) {
              const v = field.string();
              return v === null ? null : v !== '0';
            }
            // BIGINT and DECIMAL: a number while a double holds it exactly, else a BigInt or the digits.
            if (field.type === 'LONGLONG' || field.type === 'NEWDECIMAL') {
              const v = field.string();
              return v === null ? null : exactNumeric(v);
            }
            return next();
          },
        } as Knex.MySql2ConnectionConfig,
        pool: {
          min: poolConfig.min ?? 0,
          max,
          afterCreate(conn: { query(sql: string, cb: (e: Error | null) => void): void }, done: (e: Error | null, c: unknown) => void) {
            // Timestamps travel as UTC; strict mode makes a value that does not fit its column an
            // error (a refused record) instead of a warning and a silently truncated value.
            conn.query("SET time_zone = '+00:00', sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')", (error) => done(error, conn));
          },
        },
      };
    case 'better-sqlite3': {
      const filename = sqliteFile(config, dir);
      return {
        ...common,
        client: 'better-sqlite3',
        useNullAsDefault: true,
        connection: { filename },
        pool: {
          min: 1,
          max: 1,
          afterCreate(db: { pragma(p: string): unknown; defaultSafeIntegers(on: boolean): unknown }, done: (e: Error | null, c: unknown) => void) {
            try {
              sqlitePragmas(db, filename);
              done(null, db);
            } catch (error) {
              done(error as Error, db);
            }
          },
        },
      };
    }
  }
}

/** Opens a knex pool for a named connection and proves it works (one round trip), or fails with a clear message. */
export async function openConnection(name: string, config: ConnectionConfig, demand: number, dir: string): Promise<OpenedConnection<SqlConnection>> {
  const redactor = new Redactor(secretsOf(config));
  const scrub = redactor.redact;
  let settings: Knex.Config;
  try {
    settings = knexConfig(config, demand, dir);
  } catch (error) {
    throw new Error(`connection '${name}': ${scrub((error as Error).message)}`);
  }
  if (settings.client === 'better-sqlite3') {
    const file = (settings.connection as { filename: string }).filename;
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  }
  const { default: knexFactory } = await import('knex');
  const knex = knexFactory(settings);
  const connection = new SqlConnection(name, knex, dialectOf(settings.client as ClientName), redactor);
  try {
    await knex.raw('select 1');
  } catch (error) {
    await knex.destroy().catch(() => undefined);
    const target = describeTarget(config);
    throw new Error(`connection '${name}' (${String(config.client)}${target ? ` ${target}` : ''}): cannot connect: ${scrub(describeError(error))}`, {
      cause: error,
    });
  }
  return { value: connection, close: () => connection.close() };
}

/** host:port/database of a connection, never its user or password. */
function describeTarget(config: ConnectionConfig): string {
  try {
    if (typeof config.url === 'string' && /^[a-z0-9+]+:\/\//i.test(config.url)) {
      const url = new URL(config.url);
      return `at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname && url.pathname !== '/' ? url.pathname : ''}`;
    }
  } catch {
    return '';
  }
  if (typeof config.host === 'string') return `at ${config.host}${config.port ? `:${String(config.port)}` : ''}`;
  return '';
}

/** The shared connection `name` of this run, opened on first use. */
export function acquireConnection(connections: ConnectionRegistry, name: string, dir: string): Promise<SqlConnection> {
  return connections.acquire<SqlConnection>(name, (config, demand) => openConnection(name, config, demand, dir));
}
