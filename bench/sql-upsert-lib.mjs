// The PostgreSQL upsert's merge statements and staging tables as bench/sql-upsert-merge.mjs and
// bench/sql-upsert-instructions.mjs measure them, on the benchmark table (key id; COLUMNS).
import { COLUMNS } from './sql-lib.mjs';

export const cols = COLUMNS.join(', ');
const rest = COLUMNS.filter((c) => c !== 'id');
const distinct = (t, s) => `(${rest.map((c) => `${t}.${c}`).join(', ')}) is distinct from (${rest.map((c) => `${s}.${c}`).join(', ')})`;
const set = (s) => rest.map((c) => `${c} = ${s}.${c}`).join(', ');
/** The batch's rows, the last of a key winning (sluice_row numbers them in file order). */
const latest = (stage) => `select distinct on (id) ${cols} from ${stage} order by id, sluice_row desc`;

/** Merge statements: each a list of SQL run in order inside the batch's transaction. */
export const MERGES = {
  // Floors, not upserts (their tables are not checked): the staging alone, and a bare UPDATE of every row.
  copyOnly: () => [],
  updateOnly: (t, stage) => [`update ${t} as sluice_t set ${set('s')} from ${stage} s where sluice_t.id = s.id`],
  // Today's: one INSERT … ON CONFLICT DO UPDATE, unchanged rows left alone.
  onConflict: (t, stage) => [`insert into ${t} as sluice_t (${cols}) ${latest(stage)} on conflict (id) do update set ${set('excluded')} where ${distinct('sluice_t', 'excluded')}`],
  // UPDATE … FROM the batch, then INSERT of the keys not there (ON CONFLICT still, for a key a concurrent batch inserts).
  updateInsert: (t, stage) => [
    `update ${t} as sluice_t set ${set('s')} from (${latest(stage)}) s where sluice_t.id = s.id and ${distinct('sluice_t', 's')}`,
    `insert into ${t} as sluice_t (${cols}) select ${cols} from (${latest(stage)}) s where not exists (select 1 from ${t} x where x.id = s.id) on conflict (id) do update set ${set('excluded')} where ${distinct('sluice_t', 'excluded')}`,
  ],
  // PostgreSQL 15's MERGE.
  merge: (t, stage) => [
    `merge into ${t} as sluice_t using (${latest(stage)}) s on sluice_t.id = s.id when matched and ${distinct('sluice_t', 's')} then update set ${set('s')} when not matched then insert (${cols}) values (${COLUMNS.map((c) => `s.${c}`).join(', ')})`,
  ],
};

/** Staging tables: how made, and what empties it between batches. */
export const STAGES = {
  tempOnCommitDelete: { make: (s, t) => [`create temporary table ${s} on commit delete rows as select ${cols} from ${t} with no data`], empty: () => [] },
  tempTruncate: { make: (s, t) => [`create temporary table ${s} as select ${cols} from ${t} with no data`], empty: (s) => [`truncate ${s}`] },
  tempDelete: { make: (s, t) => [`create temporary table ${s} as select ${cols} from ${t} with no data`], empty: (s) => [`delete from ${s}`] },
  tempAnalyze: { make: (s, t) => [`create temporary table ${s} on commit delete rows as select ${cols} from ${t} with no data`], empty: () => [], afterCopy: (s) => [`analyze ${s}`] },
  tempIndexed: {
    make: (s, t) => [`create temporary table ${s} on commit delete rows as select ${cols} from ${t} with no data`],
    afterMake: (s) => [`create index on ${s} (id, sluice_row desc)`],
    empty: () => [],
  },
  unloggedTruncate: { make: (s, t) => [`create unlogged table ${s} as select ${cols} from ${t} with no data`], empty: (s) => [`truncate ${s}`] },
};

