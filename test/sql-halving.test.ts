// The sql sink in exactly-once mode (checkpoint.store: sql on its connection) when the engine
// halves a batch the sink refused for good: every part shares the batch's seq, so a marker keyed
// by seq alone made the first committed part skip the others, counted as written but not on disk.
// The refusal here is real: createTable from a batch holding a record of 2,100 fields (more columns
// than PostgreSQL's 1,600, SQLite's 2,000 or InnoDB's 1,017 allow) fails, so the engine halves
// until a part without that record creates the table; the wide record then has fields the table
// lacks and is dead-lettered. Also a resume after a SIGKILL right after the first part committed
// (the crash-test hook): the resumed run writes the batch whole again and must write exactly what
// no part committed. The table has no unique key, so a doubled row shows.
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, rows, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { sluice, tempDir } from './support/cli.js';

const services = await availability();
const RECORDS = 24;
const BATCH = 8;
/** The wide record: id 3, in the first batch. */
const WIDE = 3;

function input(): Array<Record<string, unknown>> {
  return Array.from({ length: RECORDS }, (_, id) => {
    if (id !== WIDE) return { id, name: `n${id}` };
    const wide: Record<string, unknown> = { id, name: 'wide' };
    for (let k = 0; k < 2100; k++) wide[`f${k}`] = k;
    return wide;
  });
}

describe.each(['pg', 'better-sqlite3', 'mysql2'] as Client[])('a halved batch into sql with checkpoint.store: sql (%s)', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase;
  let dir: string;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(async () => {
      requireUp(client, up);
      dir = tempDir('sluice-sql-halving-');
      db = await createDatabase(client, dir);
      writeFileSync(join(dir, 'in.jsonl'), input().map((r) => JSON.stringify(r)).join('\n') + '\n');
      writeFileSync(
        join(dir, 'job.yaml'),
        `version: 1\nname: halving\nconnections:\n  db: { client: ${client}, url: "${db.url}" }\ncheckpoint: { store: sql, connection: db }\n` +
          `batch: { size: ${BATCH}, inFlight: 3 }\nsource: { use: file, with: { path: in.jsonl } }\n` +
          'sink: { use: sql, with: { connection: db, table: people, createTable: true }, onError: deadLetter }\n' +
          'deadLetter: { use: file, with: { path: rejects.jsonl } }\n',
      );
    });
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    /** Every good record in the table exactly once, the wide one dead-lettered once. */
    async function expectExact(): Promise<void> {
      const ids = (await rows(db.knex, 'select id from people order by id')).map((r) => Number(r.id));
      expect(ids).toEqual(Array.from({ length: RECORDS }, (_, id) => id).filter((id) => id !== WIDE));
      const dead = readFileSync(join(dir, 'rejects.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { record: { id: number }; error: string });
      expect(dead.map((d) => d.record.id)).toEqual([WIDE]);
      expect(dead[0]!.error).toMatch(/no column/);
    }

    it('every good record of the refused batch is in the table exactly once, the bad one dead-lettered, and the counts say so', async () => {
      const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`read ${RECORDS} = written ${RECORDS - 1} + filtered 0 + dead-lettered 1`);
      await expectExact();
    });

    it('killed right after the first part of the halved batch committed, resumed: exactly what no part committed is written', async () => {
      const token = randomBytes(16).toString('hex');
      const spec = join(dir, 'faults.json');
      writeFileSync(spec, JSON.stringify({ token, run: 0, journal: join(dir, 'journal'), crash: { point: 'written', seq: 0, sink: 'sink' } }));
      const killed = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { cwd: dir, env: { SLUICE_FAULTS: `${token}:${spec}` } });
      expect(killed.signal, `the run was not killed by the hook (exit ${killed.code}): ${killed.stderr}`).toBe('SIGKILL');
      // The batch died half written: some of its rows are in, no checkpoint covers it.
      const before = Number((await rows(db.knex, 'select count(*) as n from people'))[0]!.n);
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(BATCH - 1);
      expect(await rows(db.knex, "select body from sluice_checkpoints where job = 'halving'")).toEqual([]);
      // The dead letters of a batch are written once all its sinks finished it: none yet.
      rmSync(join(dir, 'rejects.jsonl'), { force: true });

      const resumed = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { cwd: dir });
      expect(resumed.code, resumed.stderr).toBe(0);
      await expectExact();
      // The ranges of the halved batch are kept until a run starts past it; then they go.
      expect((await rows(db.knex, 'select distinct seq from sluice_sink_parts')).map((r) => Number(r.seq))).toEqual([0]);
      const again = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { cwd: dir });
      expect(again.code, again.stderr).toBe(0);
      expect(await rows(db.knex, 'select seq from sluice_sink_parts')).toEqual([]);
      await expectExact();
    });
  });
});
