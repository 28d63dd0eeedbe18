import { defineCheckpointStore, defineConnectionKind } from '@sluice/core';
import { sqlCheckpointStore } from './checkpoint-store.js';
import { CLIENTS } from './connection.js';

/** `checkpoint: { store: sql, connection: NAME }`: the checkpoint in that connection's database. */
export const sqlStore = defineCheckpointStore({
  name: 'sql',
  description: "Checkpoints and ledgers in a connection's database; a sql sink on it commits its rows and the checkpoint together.",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      connection: { type: 'string', minLength: 1, description: 'SQL store: the connection whose database keeps the checkpoint.' },
    },
  },
  rules: [(config) => (config.connection === undefined ? { message: 'checkpoint store sql needs connection: <name of a connection>' } : undefined)],
  create: (options) => sqlCheckpointStore(options),
});

// The options connection.ts reads besides `client`; others are let through as before.
const connectionSchema = {
  type: 'object',
  properties: {
    url: { type: 'string', description: 'Connection URL (postgres://…, mysql://…), or the SQLite file.', examples: ['postgres://user:${env:PGPASSWORD}@127.0.0.1:5432/db'] },
    host: { type: 'string' },
    port: { type: ['integer', 'string'] },
    user: { type: 'string' },
    password: { type: 'string' },
    database: { type: 'string' },
    filename: { type: 'string', description: 'SQLite: the database file, relative to the job file.' },
    ssl: { type: ['boolean', 'object'] },
    pool: { type: 'object', description: 'knex pool: { min, max }.' },
    schema: { type: 'string', description: 'PostgreSQL: the schema tables are looked up in.' },
  },
} as const;

const descriptions: Record<(typeof CLIENTS)[number], string> = {
  pg: 'PostgreSQL (knex client pg).',
  mysql2: 'MySQL or MariaDB (knex client mysql2).',
  'better-sqlite3': 'SQLite file (knex client better-sqlite3).',
};

/** The `client:` values of `connections:` this package opens. */
export const sqlConnectionKinds = CLIENTS.map((client) => defineConnectionKind({ name: client, description: descriptions[client], schema: connectionSchema }));
