// Instructions PostgreSQL executes for the upsert's merge statements (bench/sql-upsert-lib.mjs),
// counted by valgrind (callgrind) on a single-user `postgres --single` of a throwaway cluster:
// a figure the load of a shared machine does not move (bench/sql-upsert-merge.mjs's CPU times do).
// Each contender's script loads the file's ROWS rows into `reference`, makes the full table (a
// stale copy of every row, vacuumed), then per batch of BATCH rows: BEGIN, the batch into the
// temporary stage (INSERT … SELECT from reference, in file order), the merge, COMMIT; and checks
// the table against the reference. A script without the merges (the `copyOnly` contender) is the
// baseline: a contender's merge cost is its count minus the baseline's.
// Usage: node bench/sql-upsert-instructions.mjs [ROWS] [BATCH]   (needs valgrind, PostgreSQL 15's
// initdb/postgres in PGBIN (default /usr/lib/postgresql/15/bin); as root, runs them as user postgres.)
// Writes bench/results/upsert-merge-instructions-ROWS.json and .md.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COLUMNS, dataFiles, RESULTS } from './sql-lib.mjs';
import { cols, MERGES, STAGES } from './sql-upsert-lib.mjs';

const ROWS = Number(process.argv[2] ?? 100_000);
const BATCH = Number(process.argv[3] ?? 5000);
const PGBIN = process.env.PGBIN ?? '/usr/lib/postgresql/15/bin';
const CONTENDERS = ['copyOnly', 'onConflict', 'updateInsert', 'merge'];
const asPostgres = process.getuid?.() === 0 ? (cmd, args) => ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : (cmd, args) => [cmd, args];

/** One contender's single-user script: one statement per line. */
function script(csv, merge) {
  const t = 'full_table';
  const s = 'stage';
  const lines = [
    `create table reference (id bigint primary key, email text, name text, country text, amount numeric(12,2), created_at timestamptz)`,
    `copy reference (${cols}) from '${csv}' with (format csv, header true)`,
    `create table ${t} (id bigint primary key, email text, name text, country text, amount numeric(12,2), created_at timestamptz)`,
    `insert into ${t} select id, email, name || ' (old)', country, amount + 1, created_at from reference`,
    `vacuum analyze ${t}`,
    ...STAGES.tempOnCommitDelete.make(s, t),
    `alter table ${s} add column sluice_row bigint generated always as identity`,
  ];
  for (let from = 1; from <= ROWS; from += BATCH) {
    lines.push('begin', `insert into ${s} (${cols}) select ${cols} from reference where id between ${from} and ${from + BATCH - 1} order by id`);
    lines.push(...MERGES[merge](t, s), 'commit');
  }
  // The check: how many rows differ from the reference (0 for an upsert, ROWS for the baseline).
  lines.push(`select count(*) as differ from reference r left join ${t} x using (id) where (r.*)::text is distinct from (x.*)::text`);
  return `${lines.join('\n')}\n`;
}

function main() {
  const { csv } = dataFiles(ROWS);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-upsert-ir-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const results = [];
  try {
    execFileSync(...asPostgres(join(PGBIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']), { stdio: 'ignore' });
    const version = execFileSync(join(PGBIN, 'postgres'), ['--version']).toString().trim();
    for (const merge of CONTENDERS) {
      const sql = join(dir, `${merge}.sql`);
      writeFileSync(sql, script(csv, merge));
      const out = join(dir, `${merge}.callgrind`);
      // A fresh database per contender, so each starts from the same empty state.
      const db = `db_${merge.toLowerCase()}`;
      execFileSync(...asPostgres(join(PGBIN, 'postgres'), ['--single', '-D', data, 'postgres']), { input: `create database ${db}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
      const run = spawnSync(...asPostgres('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, join(PGBIN, 'postgres'), '--single', '-D', data, '-c', 'shared_buffers=128MB', db]), {
        input: readFileSync(sql),
        maxBuffer: 1 << 28,
      });
      const stderr = run.stderr.toString();
      const ir = /Collected : (\d+)/.exec(stderr);
      const differ = /differ = "(\d+)"/.exec(run.stdout.toString());
      if (!ir || !differ) throw new Error(`${merge}: no count (exit ${run.status})\n${stderr.slice(-2000)}\n${run.stdout.toString().slice(-2000)}`);
      const r = { id: merge, instructions: Number(ir[1]), rowsDiffering: Number(differ[1]) };
      process.stderr.write(`${JSON.stringify(r)}\n`);
      results.push(r);
    }
    const base = results[0].instructions;
    const ref = results.find((r) => r.id === 'onConflict');
    for (const r of results) {
      r.mergeInstructions = r.instructions - base;
      r.perRow = Math.round(r.mergeInstructions / ROWS);
      r.vsOnConflict = r.id === 'copyOnly' ? null : +(r.mergeInstructions / (ref.instructions - base)).toFixed(3);
      r.ok = r.id === 'copyOnly' ? r.rowsDiffering === ROWS : r.rowsDiffering === 0;
    }
    const out = { rows: ROWS, batch: BATCH, date: new Date().toISOString(), postgres: version, results };
    const name = join(RESULTS, `upsert-merge-instructions-${ROWS}`);
    writeFileSync(`${name}.json`, `${JSON.stringify(out, null, 2)}\n`);
    const md = [
      `# Upsert merge statements: instructions, ${ROWS} rows, batches of ${BATCH} (${out.date.slice(0, 16)} UTC, ${version})`,
      '',
      `\`node bench/sql-upsert-instructions.mjs ${ROWS} ${BATCH}\`: valgrind callgrind on \`postgres --single\`, one run per contender (an instruction count does not depend on the machine's load).`,
      '`copyOnly` is the baseline (table, stage and batches, no merge); a merge\'s instructions are its count minus the baseline\'s.',
      '',
      '| contender | total instructions | merge instructions | per row | × onConflict | table right |',
      '|---|--:|--:|--:|--:|---|',
      ...results.map((r) => `| ${r.id} | ${r.instructions} | ${r.id === 'copyOnly' ? '—' : r.mergeInstructions} | ${r.id === 'copyOnly' ? '—' : r.perRow} | ${r.vsOnConflict ?? '—'} | ${r.id === 'copyOnly' ? 'baseline (stale)' : r.ok ? 'yes' : 'NO'} |`),
      '',
    ].join('\n');
    writeFileSync(`${name}.md`, md);
    process.stdout.write(md);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
