// The sql plugin through the real CLI, against SQLite, PostgreSQL and MariaDB: file → sql → file
// round trips with every common type, poison rows to the dead-letter file, startup errors.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, openSqlite, requireUp, rows, T, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { ROOT, sluice, tempDir } from './support/cli.js';

const services = await availability();

const records = [
  { id: 1, big: 1_099_511_627_776, f: 3.25, t: 'plain', b: true, ts: '2024-03-10T12:34:56.789+02:00', j: { a: [1, 2, { c: null }], s: 'x' }, n: null },
  { id: 2, big: -5, f: -0.1, t: 'quotes \' " and `ticks`, back\\slash, tab\tand\nnew line\r\n', b: false, ts: '1999-12-31T23:59:59Z', j: [1, 'two', false], n: null },
  { id: 3, big: 0, f: 1e-7, t: 'ünïcödé — 日本語 — 😀', b: true, ts: '2030-01-01T00:00:00.001-05:30', j: { nested: { deep: 'yes' } }, n: null },
  { id: 4, big: null, f: null, t: null, b: null, ts: null, j: null, n: null },
  { id: 5, big: 42, f: 1234567.125, t: '', b: false, ts: '2024-02-29T12:00:00.000Z', j: 'just a string', n: null },
];

const yaml = (lines: string) => `version: 1\n${lines}`;

describe.each(['better-sqlite3', 'pg', 'mysql2'] as Client[])('sql jobs on %s through the CLI', (client) => {
  const { up, skip } = services[client];
  const t = T[client];
  let db: TestDatabase;
  let dir: string;

  describe.skipIf(skip)(LABEL[client], () => {
    beforeEach(() => requireUp(client, up));
    afterEach(async () => {
      const done = db;
      db = undefined!;
      await done?.drop();
    });

    const connection = () => `connections:\n  db: { client: ${client}, url: "${db.url}" }\n`;
    const run = async (name: string, body: string, progress = 'none') => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, yaml(`name: ${name}\n${connection()}${body}`));
      return sluice(['run', file, '--progress', progress], { timeoutMs: 60_000 });
    };
    /** `rows` as a JSON Lines file in the test's folder. */
    const writeJsonl = (name: string, rows: readonly object[]) => writeFileSync(join(dir, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    /** The dead letters a run wrote to rejects.jsonl. */
    const deadLetters = <T>() => readFileSync(join(dir, 'rejects.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as T);
    /** The run's own account of a failure at startup: no event but the end, no step started, nothing read or retried. */
    const stoppedAtStartup = (stdout: string) => {
      const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; report: { status: string; steps: unknown[]; counters: { read: number; retries: number } } });
      expect(events.map((e) => e.type)).toEqual(['end']);
      expect(events[0]!.report).toMatchObject({ status: 'failed', steps: [], counters: { read: 0, retries: 0 } });
    };

    it('file → sql → file keeps integers, floats, text, booleans, zoned timestamps, JSON and NULLs', async () => {
      dir = tempDir('sluice-sql-cli-');
      db = await createDatabase(client, dir);
      await db.knex.raw(
        `create table things (id ${t.int} primary key, big ${t.bigint}, f ${t.float}, t ${t.text}, b ${t.bool}, ts ${t.ts}, j ${t.json}, n ${t.text})`,
      );
      writeJsonl('in.jsonl', records);
      const load = await run('load', 'source: { use: file, with: { path: in.jsonl } }\nsink: { use: sql, with: { connection: db, table: things } }\n');
      expect(load.code, load.stderr).toBe(0);
      const dump = await run('dump', 'source: { use: sql, with: { connection: db, table: things } }\nsink: { use: file, with: { path: out.jsonl } }\n');
      expect(dump.code, dump.stderr).toBe(0);
      const back = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(back.length).toBe(records.length);
      for (const [i, want] of records.entries()) {
        const got = back[i]!;
        const instant = (v: unknown) => (v === null ? null : new Date(v as string).getTime());
        expect(instant(got.ts), `ts of ${want.id}`).toBe(instant(want.ts));
        expect({ ...got, ts: null }, `record ${want.id}`).toEqual({ ...want, ts: null });
      }
    });

    it.skipIf(client === 'better-sqlite3')('a zoned timestamp on a day its month lacks (29 February 2023) is dead-lettered, never rolled over to 1 March', async () => {
      dir = tempDir('sluice-sql-cli-');
      db = await createDatabase(client, dir);
      await db.knex.raw(`create table stamps (id ${t.int} primary key, ts ${t.ts})`);
      const input = [
        { id: 1, ts: '2023-02-29T10:00:00Z' },
        { id: 2, ts: '2024-02-29T10:00:00.25Z' },
        { id: 3, ts: '2023-04-31T10:00:00+02:00' },
      ];
      writeJsonl('stamps.jsonl', input);
      const result = await run(
        'stamps',
        'source: { use: file, with: { path: stamps.jsonl } }\n' +
          'sink: { use: sql, with: { connection: db, table: stamps }, onError: deadLetter }\ndeadLetter: { use: file, with: { path: rejects.jsonl } }\n',
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('read 3 = written 1 + filtered 0 + dead-lettered 2');
      const kept = await rows(db.knex, 'select id, ts from stamps order by id');
      expect(kept.map((r) => Number(r.id))).toEqual([2]);
      expect(new Date(kept[0]!.ts as string).getTime()).toBe(Date.parse('2024-02-29T10:00:00.250Z'));
      const dead = deadLetters<{ record: { id: number; ts: string } }>();
      expect(dead.map((d) => d.record)).toEqual([input[0], input[2]]);
    });

    it('1,000 records with 3 that break constraints: 997 rows, 3 dead letters with the database\'s message', async () => {
      dir = tempDir('sluice-sql-cli-');
      db = await createDatabase(client, dir);
      await db.knex.raw(`create table people (id ${t.int} primary key, name ${t.varchar} not null, n ${t.int} check (n >= 0))`);
      const input = [];
      for (let i = 0; i < 1000; i++) input.push({ id: i, name: `n${i}`, n: i });
      input[10] = { id: 10, name: null, n: 1 };
      input[20] = { id: 20, name: 'neg', n: -1 };
      input[30] = { id: 29, name: 'dup', n: 1 };
      writeJsonl('people.jsonl', input);
      const result = await run(
        'poison',
        'checkpoint: { store: sql, connection: db }\nsource: { use: file, with: { path: people.jsonl } }\n' +
          'sink: { use: sql, with: { connection: db, table: people }, onError: deadLetter }\ndeadLetter: { use: file, with: { path: rejects.jsonl } }\n',
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('read 1,000 = written 997 + filtered 0 + dead-lettered 3');
      expect(Number((await rows(db.knex, 'select count(*) as n from people'))[0]!.n)).toBe(997);
      const dead = deadLetters<{ record: { id: number }; error: string; step: string }>();
      expect(dead.map((d) => d.record.id)).toEqual([10, 20, 29]);
      expect(dead[0]!.error).toMatch(/null/i);
      expect(dead[1]!.error).toMatch(/check|constraint/i);
      expect(dead[2]!.error).toMatch(/duplicate|unique/i);
    });

    it('stops at startup, exit 1 with one clear line, on a missing table, a missing column or a wrong URL (password never shown)', async () => {
      dir = tempDir('sluice-sql-cli-');
      db = await createDatabase(client, dir);
      await db.knex.raw(`create table users (id ${t.int} primary key, email ${t.text})`);
      writeFileSync(join(dir, 'in.jsonl'), '{"id":1,"email":"a@b.c"}\n');
      const source = 'source: { use: file, with: { path: in.jsonl } }\n';
      const table = await run('missing-table', `${source}sink: { use: sql, with: { connection: db, table: userz } }\n`, 'json');
      expect(table.code).toBe(1);
      expect(table.stderr).toMatch(/^ {2}error: step 'sink' \(sql\) could not start: sql: table userz does not exist on connection 'db'; create it first, or set createTable: true$/m);
      const column = await run('missing-column', `${source}sink: { use: sql, with: { connection: db, table: users, columns: { email: emial } } }\n`, 'json');
      expect(column.code).toBe(1);
      expect(column.stderr).toMatch(/could not start: sql: table users has no column 'emial'; did you mean 'email'\?/);
      const readColumn = await run('missing-source-column', `source: { use: sql, with: { connection: db, table: users, columns: [id, mail] } }\nsink: { use: file, with: { path: o.jsonl } }\n`, 'json');
      expect(readColumn.code).toBe(1);
      expect(readColumn.stderr).toMatch(/table users has no column 'mail'/);
      for (const out of [table, column, readColumn]) {
        expect(out.stderr).not.toMatch(/\n\s+at /);
        stoppedAtStartup(out.stdout);
      }

      if (client !== 'better-sqlite3') {
        const secret = 'S3cret-Pa55word';
        const bad = client === 'pg' ? `postgres://postgres:${secret}@127.0.0.1:1/nodb` : `mysql://root:${secret}@127.0.0.1:1/nodb`;
        const file = join(dir, 'wrong-url.yaml');
        writeFileSync(file, yaml(`name: wrong-url\nconnections:\n  db: { client: ${client}, url: "${bad}" }\n${source}sink: { use: sql, with: { connection: db, table: users } }\n`));
        const wrong = await sluice(['run', file, '--progress', 'none'], { timeoutMs: 30_000 });
        expect(wrong.code).toBe(1);
        expect(wrong.stderr).toMatch(/could not start: connection 'db' \((pg|mysql2) at 127\.0\.0\.1:1\/nodb\): cannot connect: .*ECONNREFUSED/);
        expect(wrong.stderr + wrong.stdout).not.toContain(secret);
        // From the environment, too (a secret to the redactor as well).
        writeFileSync(file, yaml(`name: wrong-url\nconnections:\n  db: { client: ${client}, url: "\${env:SQL_URL}" }\n${source}sink: { use: sql, with: { connection: db, table: users } }\n`));
        const fromEnv = await sluice(['run', file, '--progress', 'none', '--verbose'], { timeoutMs: 30_000, env: { SQL_URL: bad } });
        expect(fromEnv.code).toBe(1);
        expect(fromEnv.stderr + fromEnv.stdout).not.toContain(secret);
      }
    });
  });
});

describe('jobs/csv-to-sqlite.yaml', () => {
  it('runs out of the box: creates out/demo.db and its table, upserts the 18 good rows, and reruns change nothing', async () => {
    const copy = join(tempDir('sluice-sql-example-'), 'jobs');
    mkdirSync(join(copy, 'data'), { recursive: true });
    cpSync(join(ROOT, 'jobs/csv-to-sqlite.yaml'), join(copy, 'csv-to-sqlite.yaml'));
    cpSync(join(ROOT, 'jobs/data/users.csv'), join(copy, 'data/users.csv'));
    const job = join(copy, 'csv-to-sqlite.yaml');
    const first = await sluice(['run', job, '--progress', 'none'], { timeoutMs: 30_000 });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('read 20 = written 18 + filtered 0 + dead-lettered 2');
    const knex = openSqlite(join(copy, 'out/demo.db'));
    try {
      const users = await rows(knex, 'select id, email, country, active from users order by id');
      expect(users).toHaveLength(18);
      expect(users[0]).toEqual({ id: 1, email: 'ada@example.com', country: 'GB', active: 1 });
      const again = await sluice(['run', job, '--progress', 'none'], { timeoutMs: 30_000 });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('this run: 0 records');
      const fresh = await sluice(['run', job, '--progress', 'none', '--fresh'], { timeoutMs: 30_000 });
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(await rows(knex, 'select count(*) as n from users')).toEqual([{ n: 18 }]);
    } finally {
      await knex.destroy();
    }
  });
});
