// SQLite, checkpoint.store: sql: a batch's rows and its sink marker must commit in ONE transaction.
// The `sluice run` child is SIGKILLed right after a chosen SQLite commit (a preloaded hook,
// test/support/sqlite-commit-kill.cjs, that changes nothing else): after the commit that held batch
// K's rows, and after the commit that moved the marker to K. The checkpoint is behind K then, so
// only the marker tells the resume that batch K is in. With one transaction both kills leave rows
// and marker together; a build writing the marker in a transaction of its own dies between them,
// and the resume writes batch K again (rows first) or never (marker first). The table has no unique
// key and is compared with the input as a multiset, so a doubled or a missing row shows.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, requireUp, rows, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { ROOT, sluice, tempDir } from './support/cli.js';

const services = await availability();
const RECORDS = 1500;
const BATCH = 100;
/** The batch whose commit the run dies after (0-based): a few batches in, with earlier checkpoints saved. */
const K = 5;
const HOOK = join(ROOT, 'test/support/sqlite-commit-kill.cjs');

/** Records with repeated ids and values: a multiset, not a set. */
const input = Array.from({ length: RECORDS }, (_, i) => ({ id: i % 700, v: `v${i % 13}` }));
const lines = (list: Array<{ id: unknown; v: unknown }>) => list.map((r) => `${Number(r.id)}\t${String(r.v)}`).sort();

describe.skipIf(services['better-sqlite3'].skip)('SIGKILL between a SQLite commit of rows and of their marker', () => {
  let db: TestDatabase;
  beforeEach(() => requireUp('better-sqlite3', services['better-sqlite3'].up));
  afterEach(async () => {
    const done = db;
    db = undefined!;
    await done?.drop();
  });

  // JSON Lines makes records; CSV goes in as raw pages the sink reads itself (no records made).
  it.each([
    { label: "batch K's rows", kill: { table: 'dst', batch: K }, format: 'jsonl' },
    { label: 'the marker at K', kill: { marker: K }, format: 'jsonl' },
    { label: "batch K's rows", kill: { table: 'dst', batch: K }, format: 'csv' },
    { label: 'the marker at K', kill: { marker: K }, format: 'csv' },
  ])('$format: killed right after the commit of $label, resumed: the table holds every record exactly once (multiset)', async ({ kill, format }) => {
    const dir = tempDir('sluice-sqlite-marker-');
    db = await createDatabase('better-sqlite3', dir);
    await db.knex.raw('create table dst (id integer not null, v text not null)');
    writeFileSync(join(dir, 'in.jsonl'), input.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeFileSync(join(dir, 'in.csv'), `id,v\n${input.map((r) => `${r.id},${r.v}`).join('\n')}\n`);
    const job = join(dir, 'marker.yaml');
    writeFileSync(
      job,
      `version: 1\nname: marker\nconnections:\n  db: { client: better-sqlite3, url: "${db.url}" }\ncheckpoint: { store: sql, connection: db }\n` +
        `batch: { size: ${BATCH}, inFlight: 2 }\nsource: { use: file, with: { path: in.${format} } }\n` +
        'sink: { use: sql, with: { connection: db, table: dst } }\n',
    );

    const killed = await sluice(['run', job, '--progress', 'none'], {
      env: { NODE_OPTIONS: `--require ${HOOK}`, SLUICE_TEST_KILL_AFTER_COMMIT: JSON.stringify(kill) },
    });
    expect(killed.signal, `the run was not killed by the hook (exit ${killed.code}): ${killed.stderr}`).toBe('SIGKILL');
    // The checkpoint is behind batch K: the resume has only the marker to tell it K is in.
    const saved = await rows(db.knex, "select body from sluice_checkpoints where job = 'marker'");
    const checkpointSeq = saved.length ? (JSON.parse(String(saved[0]!.body)) as { seq: number }).seq : -1;
    expect(checkpointSeq).toBeLessThan(K);

    const resumed = await sluice(['run', job, '--progress', 'json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(/as they are \(read by the sink/.test(resumed.stdout), 'raw pages for CSV only').toBe(format === 'csv');
    const loaded = await rows(db.knex, 'select id, v from dst');
    expect(loaded.length).toBe(RECORDS);
    expect(lines(loaded as Array<{ id: unknown; v: unknown }>)).toEqual(lines(input));
  }, 120_000);
});
