import type { ConfigOf, RuleViolation } from '@sluice/core';
import { columnNameProblem, type DialectName, type TableInfo } from './dialect.js';
import { hasUniqueKey, missingColumn } from './introspect.js';

const keySchema = {
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
  ],
} as const;

/** JSON Schema of the sql sink's `with`. */
export const sqlSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['connection', 'table'],
  properties: {
    connection: {
      type: 'string',
      minLength: 1,
      description: 'Name of an entry of the job\'s connections: (client pg, mysql2 or better-sqlite3).',
      examples: ['warehouse'],
    },
    table: {
      type: 'string',
      minLength: 1,
      description: 'Table to write, optionally schema-qualified (public.users). It must exist unless createTable is true.',
      examples: ['users', 'analytics.events'],
    },
    mode: {
      type: 'string',
      enum: ['insert', 'upsert', 'replace'],
      default: 'insert',
      description:
        'insert: add rows. upsert: insert, or update the row with the same key (needs a unique index on key). replace: a fresh run (no checkpoint) first deletes every row of the table, in the same transaction as its first batch; then inserts.',
      examples: ['insert', 'upsert'],
    },
    key: {
      ...keySchema,
      description:
        'upsert: the column(s) that identify a row; they need a primary key or unique index. Default: the primary key. With createTable, the new table\'s primary key.',
      examples: ['id', ['tenant_id', 'id']],
    },
    columns: {
      anyOf: [
        { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
        { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, minProperties: 1 },
      ],
      description:
        'Which record fields to write: a list of fields (columns of the same name), or a map field → column. Other fields are left out. Default: every field, each into the column of its name.',
      examples: [['id', 'email'], { id: 'user_id', mail: 'email' }],
    },
    createTable: {
      type: 'boolean',
      default: false,
      description:
        'Create the table when it is missing, from the first batch: one column per field, typed from its values (integer, float, boolean, text, timestamp with zone, JSON), key as primary key.',
      examples: [true],
    },
    onFresh: {
      type: 'string',
      enum: ['refuse', 'truncate', 'append'],
      description:
        'What a fresh start (no checkpoint: the first run, --fresh, sluice reset, checkpoint.store: none) does when the table already holds rows. refuse (default for insert): stop at startup (exit 2) naming the table. truncate: delete every row, in the transaction of the first batch. append (default for upsert): keep the rows and add (insert) or update (upsert) them. mode: replace always empties the table.',
      examples: ['truncate', 'append'],
    },
    evolve: {
      type: 'string',
      enum: ['none', 'addColumns'],
      default: 'none',
      description:
        'addColumns: a record field the table has no column for adds a nullable column, typed from the batch\'s values (as createTable types them). A value that does not fit its column is refused as a record error naming the column. none: such a record is refused (or the field left out with ignoreUnknown).',
      examples: ['addColumns'],
    },
    ignoreUnknown: {
      type: 'boolean',
      default: false,
      description: 'Leave out record fields the table has no column for, instead of refusing the record.',
      examples: [true],
    },
  },
} as const;

export type Mode = 'insert' | 'upsert' | 'replace';
/** The sql sink's `with` as `create` gets it: validated, defaults filled in. */
export type Config = ConfigOf<typeof sqlSinkSchema>;

/** What the sink saves with each checkpoint: the seq of the last batch it committed. */
export interface SqlSinkState {
  readonly seq: number;
}

export const keyList = (key: Config['key']): string[] => (key === undefined ? [] : typeof key === 'string' ? [key] : [...key]);

/** Field → column pairs, or undefined for "every field into the column of its name". */
export function mappingOf(columns: Config['columns']): Array<[string, string]> | undefined {
  if (columns === undefined) return undefined;
  return Array.isArray(columns) ? columns.map((c: string) => [c, c]) : Object.entries(columns as Record<string, string>);
}

/** Rule: two fields cannot go into one column. */
export function columnsAreDistinct(config: Config): RuleViolation | undefined {
  const mapping = mappingOf(config.columns);
  if (!mapping) return undefined;
  const seen = new Map<string, string>();
  for (const [field, column] of mapping) {
    const other = seen.get(column);
    if (other !== undefined) return { path: `columns.${field}`, message: `fields '${other}' and '${field}' both go to column '${column}'`, hint: 'map each field to its own column' };
    seen.set(column, field);
  }
  return undefined;
}

/** Rule: key means something for upsert (and as the primary key of a created table) only. */
export function keyNeedsUpsertOrCreate(config: Config): RuleViolation | undefined {
  if (config.key === undefined || (config.mode ?? 'insert') === 'upsert' || config.createTable) return undefined;
  return { path: 'key', message: `key is used by mode upsert (or as the primary key with createTable); this sink's mode is ${config.mode ?? 'insert'}`, hint: 'set mode: upsert, or remove key' };
}

/** Rule: a created table for upsert needs its key. */
export function createdUpsertNeedsKey(config: Config): RuleViolation | undefined {
  if (config.mode !== 'upsert' || !config.createTable || config.key !== undefined) return undefined;
  return { path: 'key', message: 'createTable with mode upsert needs key: the primary key of the table it creates', hint: 'add key: [id]' };
}

/** Rule: the mapped columns include the key. */
export function keyIsMapped(config: Config): RuleViolation | undefined {
  const mapping = mappingOf(config.columns);
  if (!mapping) return undefined;
  const targets = new Set(mapping.map(([, column]) => column));
  const missing = keyList(config.key).filter((k) => !targets.has(k));
  return missing.length ? { path: 'key', message: `key column(s) ${missing.join(', ')} are not among the columns written`, hint: 'add them to columns' } : undefined;
}


/** Checks the table against the config at startup: it exists (or will be created), and every named column does. */
export function checkTable(config: Config, info: TableInfo | undefined, key: string[], dialect: DialectName): string[] {
  const problems: string[] = [];
  // Names the job gives for columns that may have to be created: each must be one a database keeps exactly.
  for (const [field, column] of mappingOf(config.columns) ?? []) {
    const why = info?.byName.has(column) ? undefined : columnNameProblem(dialect, column);
    if (why) problems.push(`column name ${JSON.stringify(column)} (columns.${field}) cannot be used: ${why}`);
  }
  for (const k of key) {
    const why = info?.byName.has(k) ? undefined : columnNameProblem(dialect, k);
    if (why) problems.push(`key column name ${JSON.stringify(k)} cannot be used: ${why}`);
  }
  if (!info || problems.length) return problems;
  for (const [field, column] of mappingOf(config.columns) ?? []) {
    if (!info.byName.has(column) && config.evolve !== 'addColumns') problems.push(`${missingColumn(column, info)} (columns.${field}); or set evolve: addColumns`);
  }
  for (const k of key) if (!info.byName.has(k)) problems.push(`${missingColumn(k, info)} (key)`);
  if ((config.mode ?? 'insert') === 'upsert' && problems.length === 0) {
    if (key.length === 0) problems.push(`table ${info.name} has no primary key; set key: the column(s) that identify a row (with a unique index)`);
    else if (!hasUniqueKey(info, key)) {
      problems.push(`upsert key (${key.join(', ')}) of table ${info.name} has no primary key or unique index on exactly these columns; add one, e.g. create unique index on ${info.name} (${key.join(', ')})`);
    }
  }
  return problems;
}

