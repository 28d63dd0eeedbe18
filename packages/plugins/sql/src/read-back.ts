// What a sql sink durably holds and promises, for `sluice crash-test` and `crashTest`: every row
// of its table (committed rows only: read on a connection of its own, after the run), and its
// guarantee, which depends on where the checkpoint lives.
import type { JobInfo, PluginContext, SinkGuarantee, SluiceRecord } from '@sluice/core';
import { acquireConnection } from './connection.js';
import { quote, recordValue } from './dialect.js';
import { describeError } from './errors.js';
import { describeTable, rowsOf } from './introspect.js';
import type { Config } from './sink-config.js';

/**
 * exactly-once with `checkpoint: { store: sql }` on the sink's own connection (each commit carries
 * its marker); otherwise a resume writes the batches after the checkpoint again: upsert overwrites
 * them (effectively once), insert and replace add them again (at least once).
 */
export function sqlGuarantee(config: Config, job: JobInfo): SinkGuarantee {
  if (job.checkpoint.store === 'sql' && job.checkpoint.connection === config.connection) return 'exactly-once';
  return config.mode === 'upsert' ? 'effectively-once' : 'at-least-once';
}

/** Every row of the sink's table as a record (columns as fields, values as a sql source gives them); none when the table does not exist. */
export async function* readBackTable(config: Config, ctx: PluginContext): AsyncIterable<SluiceRecord> {
  const conn = await acquireConnection(ctx.connections, config.connection, ctx.job.dir);
  let rows: Array<Record<string, unknown>>;
  let kinds: Map<string, string>;
  try {
    const info = await describeTable(conn, config.table);
    if (!info) return;
    kinds = new Map(info.columns.map((c) => [c.name, c.kind]));
    rows = rowsOf(await conn.knex.raw(`select * from ${quote(conn.knex, config.table)}`));
  } catch (error) {
    throw new Error(`sql: cannot read table ${config.table} back on connection '${config.connection}': ${conn.scrub(describeError(error))}`, { cause: error });
  }
  for (const row of rows) {
    const record: SluiceRecord = {};
    for (const [name, value] of Object.entries(row)) record[name] = recordValue(value, kinds.get(name) as Parameters<typeof recordValue>[1]);
    yield record;
  }
}
