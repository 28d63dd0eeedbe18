// The databases the SQL tests run against: PostgreSQL and MariaDB on this machine, SQLite in temp
// folders. Each case makes its own database (random name) and drops it.
// A server that cannot be reached FAILS its tests, naming the address, unless
// SLUICE_TEST_SERVICES=skip is set (then they are reported skipped).
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';

export type Client = 'pg' | 'mysql2' | 'better-sqlite3';
export const CLIENTS: Client[] = ['better-sqlite3', 'pg', 'mysql2'];

export const PG = { host: process.env.SLUICE_TEST_PG_HOST ?? '127.0.0.1', port: Number(process.env.SLUICE_TEST_PG_PORT ?? 5432), user: 'postgres', database: 'test' };
export const MARIADB = { host: process.env.SLUICE_TEST_MYSQL_HOST ?? '127.0.0.1', port: Number(process.env.SLUICE_TEST_MYSQL_PORT ?? 3306), user: 'root', database: 'test' };

export const SKIP_MISSING = process.env.SLUICE_TEST_SERVICES === 'skip';

export const LABEL: Record<Client, string> = { 'better-sqlite3': 'SQLite', pg: 'PostgreSQL', mysql2: 'MariaDB' };

function address(client: Client): string {
  return client === 'pg' ? `${PG.host}:${PG.port}` : client === 'mysql2' ? `${MARIADB.host}:${MARIADB.port}` : 'a temp file';
}

/** Whether the server of `client` accepts TCP connections (SQLite always can). */
export function reachable(client: Client): Promise<boolean> {
  if (client === 'better-sqlite3') return Promise.resolve(true);
  const { host, port } = client === 'pg' ? PG : MARIADB;
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Per client: whether its tests are skipped (server down and SLUICE_TEST_SERVICES=skip). */
export async function availability(): Promise<Record<Client, { up: boolean; skip: boolean }>> {
  const out = {} as Record<Client, { up: boolean; skip: boolean }>;
  for (const client of CLIENTS) {
    const up = await reachable(client);
    out[client] = { up, skip: !up && SKIP_MISSING };
  }
  return out;
}

/** Throws the loud failure for a server that is down (when not skipping). */
export function requireUp(client: Client, up: boolean): void {
  if (!up) {
    throw new Error(
      `${LABEL[client]} is not reachable at ${address(client)}; start it, or set SLUICE_TEST_SERVICES=skip to skip the ${LABEL[client]} tests`,
    );
  }
}

/** A database made for one test case. */
export interface TestDatabase {
  readonly client: Client;
  /** For a job's `connections:` entry. */
  readonly url: string;
  readonly connection: { client: Client; url: string };
  /** A knex on the database, for setting up and checking. */
  readonly knex: Knex;
  drop(): Promise<void>;
}

const randomName = () => `sluice_t_${randomBytes(5).toString('hex')}`;

function adminKnex(client: Client): Knex {
  if (client === 'pg') return knexFactory({ client: 'pg', connection: { ...PG }, pool: { min: 0, max: 1 } });
  return knexFactory({ client: 'mysql2', connection: { ...MARIADB }, pool: { min: 0, max: 1 } });
}

/** Makes a fresh database (PostgreSQL, MariaDB) or database file (SQLite). */
export async function createDatabase(client: Client, dir?: string): Promise<TestDatabase> {
  if (client === 'better-sqlite3') {
    const folder = dir ?? mkdtempSync(join(tmpdir(), 'sluice-sql-'));
    const file = join(folder, `${randomName()}.db`);
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
    return { client, url: file, connection: { client, url: file }, knex, drop: () => knex.destroy() };
  }
  const name = randomName();
  const admin = adminKnex(client);
  try {
    await admin.raw(client === 'pg' ? `create database ${name}` : `create database ${name} character set utf8mb4 collate utf8mb4_bin`);
  } finally {
    await admin.destroy();
  }
  const url =
    client === 'pg' ? `postgres://${PG.user}@${PG.host}:${PG.port}/${name}` : `mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}/${name}`;
  const knex =
    client === 'pg'
      ? knexFactory({ client: 'pg', connection: { ...PG, database: name }, pool: { min: 0, max: 2 } })
      : knexFactory({ client: 'mysql2', connection: { ...MARIADB, database: name, timezone: 'Z' }, pool: { min: 0, max: 2 } });
  return {
    client,
    url,
    connection: { client, url },
    knex,
    async drop() {
      await knex.destroy();
      const a = adminKnex(client);
      try {
        await a.raw(client === 'pg' ? `drop database if exists ${name} with (force)` : `drop database if exists ${name}`);
      } finally {
        await a.destroy();
      }
    },
  };
}

/** A knex on an existing SQLite file. */
export function openSqlite(file: string): Knex {
  return knexFactory({ client: 'better-sqlite3', connection: { filename: file }, useNullAsDefault: true });
}

/** Rows of a raw query on any of the three. */
export async function rows(knex: Knex, sql: string, bindings: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const result = (await knex.raw(sql, bindings as never[])) as unknown;
  if (Array.isArray(result)) return (Array.isArray(result[0]) ? result[0] : result) as Array<Record<string, unknown>>;
  return (result as { rows: Array<Record<string, unknown>> }).rows;
}

/** DDL types per client, for tables the tests make themselves. */
export const T: Record<Client, { int: string; bigint: string; float: string; text: string; bool: string; ts: string; json: string; varchar: string }> = {
  pg: { int: 'integer', bigint: 'bigint', float: 'double precision', text: 'text', bool: 'boolean', ts: 'timestamptz', json: 'jsonb', varchar: 'varchar(20)' },
  mysql2: { int: 'integer', bigint: 'bigint', float: 'double', text: 'text', bool: 'boolean', ts: 'datetime(3)', json: 'json', varchar: 'varchar(20)' },
  'better-sqlite3': { int: 'integer', bigint: 'integer', float: 'real', text: 'text', bool: 'boolean', ts: 'timestamp', json: 'json', varchar: 'varchar(20)' },
};
