import type { ColumnInfo } from './dialect.js';
import { quoteColumn } from './dialect.js';
import type { WriteTarget } from './batch.js';

interface PgQuery {
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

const q = (c: string) => quoteColumn('postgres', c);

/**
 * The statements that merge a staging table into the target (the upsert's second half), both with
 * the same outcome: the last row of a key in the stage wins, as if the rows were upserted one by
 * one (`sluice_row` numbers them in batch order); a key not in the table is inserted; a row whose
 * values do not change is not rewritten (no new row version, no WAL, no index churn).
 *
 * - `onConflict`: `INSERT … SELECT … ON CONFLICT (key) DO UPDATE`. Works on every version, on a
 *   subset of the stage's rows (`whole: false`: the positions in `$1`, for halving), and is safe
 *   against a concurrent insert of the same key (it waits, then updates).
 * - `merge`: PostgreSQL 15's `MERGE`, the whole stage only. It does not lock each row before
 *   updating it as ON CONFLICT does (3 WAL records per updated row, not 4): on a table where
 *   every row is updated, 0.94× the statement's instructions, 0.88× the WAL, and 0.91–1.00× the
 *   backend's CPU on a loaded machine (bench/results/upsert-merge-*). A key a concurrent
 *   transaction inserts first makes it fail with a unique violation, where ON CONFLICT would
 *   update: the writer then writes the batch again through `onConflict` (see write-pg.ts).
 */
export class PgUpsert {
  constructor(private readonly target: WriteTarget) {}

  onConflict(columns: readonly ColumnInfo[], stage: string, whole: boolean): string {
    const key = this.keyList();
    const update = this.updated(columns);
    const action = update.length ? `do update set ${this.assign(update, 'excluded')} where ${this.changed(update, 'excluded')}` : 'do nothing';
    return (
      `insert into ${this.target.table} as sluice_t (${this.columnList(columns)}) ${this.latest(columns, stage, whole)}` +
      ` on conflict (${key}) ${action}`
    );
  }

  merge(columns: readonly ColumnInfo[], stage: string): string {
    const on = this.target.key.map((k) => `sluice_t.${q(k)} = sluice_s.${q(k)}`).join(' and ');
    const update = this.updated(columns);
    const matched = update.length ? ` when matched and ${this.changed(update, 'sluice_s')} then update set ${this.assign(update, 'sluice_s')}` : '';
    return (
      `merge into ${this.target.table} as sluice_t using (${this.latest(columns, stage, true)}) as sluice_s on ${on}${matched}` +
      ` when not matched then insert (${this.columnList(columns)}) values (${columns.map((c) => `sluice_s.${q(c.name)}`).join(', ')})`
    );
  }

  /** The stage's rows (all, or the positions in `$1`), one per key: the last. */
  private latest(columns: readonly ColumnInfo[], stage: string, whole: boolean): string {
    const key = this.keyList();
    return `select distinct on (${key}) ${this.columnList(columns)} from ${stage}${whole ? '' : ' where sluice_row = any($1::int[])'} order by ${key}, sluice_row desc`;
  }

  private keyList(): string {
    return this.target.key.map(q).join(', ');
  }

  private columnList(columns: readonly ColumnInfo[]): string {
    return columns.map((c) => q(c.name)).join(', ');
  }

  private updated(columns: readonly ColumnInfo[]): ColumnInfo[] {
    return columns.filter((c) => !this.target.key.includes(c.name));
  }

  private assign(update: readonly ColumnInfo[], source: string): string {
    return update.map((c) => `${q(c.name)} = ${source}.${q(c.name)}`).join(', ');
  }

  /** Whether the table's row differs from `source`'s (json and the like compared as text: they may have no `=`). */
  private changed(update: readonly ColumnInfo[], source: string): string {
    const text = (c: ColumnInfo, side: string) => (c.kind === 'json' || c.kind === 'other' || c.kind === 'array' ? `${side}.${q(c.name)}::text` : `${side}.${q(c.name)}`);
    if (update.length === 1) return `${text(update[0]!, 'sluice_t')} is distinct from ${text(update[0]!, source)}`;
    return `(${update.map((c) => text(c, 'sluice_t')).join(', ')}) is distinct from (${update.map((c) => text(c, source)).join(', ')})`;
  }
}

/**
 * Whether `MERGE` gives the table exactly what ON CONFLICT gives it: PostgreSQL 15 or later, a
 * plain or partitioned table, and nothing that sees the two differently — no trigger of its own
 * (ON CONFLICT fires BEFORE INSERT triggers on rows it then updates, whose changes reach the
 * update; MERGE does not), no rule, no row-level security (the two check policies differently).
 */
export async function mergeFits(client: PgQuery, table: string): Promise<boolean> {
  const version = await client.query(`select current_setting('server_version_num')::int as v`);
  if (Number(version.rows[0]!.v) < 150000) return false;
  const { rows } = await client.query(
    `select c.relkind in ('r', 'p') and not c.relhasrules and not c.relrowsecurity
        and not exists (select 1 from pg_trigger g where not g.tgisinternal
                        and (g.tgrelid = c.oid or g.tgrelid in (select relid from pg_partition_tree(c.oid)))) as fits
       from pg_class c where c.oid = $1::regclass`,
    [table],
  );
  return rows[0]?.fits === true;
}
