// The sql sink proves its own resume with crashTest: killed (SIGKILL) at every fault point and
// resumed, with the checkpoint in the same database (each commit carries its marker) the table
// holds exactly the rows of an uninterrupted run, on PostgreSQL and SQLite. With the checkpoint
// elsewhere it declares at-least-once — and a crash after a commit shows why.
import { crashTest, formatCrashReport } from '@sluice/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, LABEL, requireUp, type Client, type TestDatabase } from '../test/services.js';

const services = await availability();
// The built package, as a job loads it (`npx tsc -b` first); it also brings checkpoint.store: sql.
const module = new URL('../dist/index.js', import.meta.url);
const records = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, name: `user-${i + 1}`, big: i > 25 }));

describe.each(['pg', 'better-sqlite3'] as Client[])('sql sink under crashTest on %s', (client) => {
  const { up, skip } = services[client];
  let db: TestDatabase | undefined;
  afterEach(async () => {
    await db?.drop();
    db = undefined;
  });

  it.skipIf(skip)(`${LABEL[client]}: exactly once at every point with checkpoint.store sql`, async () => {
    requireUp(client, up);
    // SQLite: a file relative to each scenario's own folder. PostgreSQL: one database, emptied by each fresh run.
    let url = 'crash.db';
    if (client === 'pg') {
      db = await createDatabase(client);
      url = db.url;
    }
    const report = await crashTest({
      module,
      sink: { name: 'sql', config: { connection: 'db', table: 'loaded', mode: 'insert', createTable: true, onFresh: 'truncate' } },
      records,
      connections: { db: { client, url } },
      checkpoint: { store: 'sql', connection: 'db' },
      // Every point on SQLite; on PostgreSQL the points around a commit (test/crash-test-cli.test.ts
      // runs every point there through the CLI).
      ...(client === 'pg' ? { points: ['mid-write', 'written', 'before-checkpoint'] as const } : {}),
    });
    expect(report.passed, formatCrashReport(report)).toBe(true);
    for (const s of report.scenarios) {
      expect(s.sinks, s.point).toEqual([expect.objectContaining({ guarantee: 'exactly-once', ordered: false, verdict: 'passed', held: 50, duplicated: 0, lost: 0 })]);
    }
    // SQLite writes synchronously: a write is never caught in the middle.
    for (const point of client === 'pg' ? ['mid-write', 'written', 'before-checkpoint'] : ['handed', 'written', 'before-checkpoint', 'after-checkpoint']) {
      expect(report.scenarios.find((s) => s.point === point)!.crashes.map((c) => c.point), point).toEqual([point]);
    }
  });
});

describe('sql sink under crashTest, checkpoint in a file', () => {
  it('declares at-least-once, and keeps it: a crash between its commit and the checkpoint writes rows again', async () => {
    const report = await crashTest({
      module,
      sink: { name: 'sql', config: { connection: 'db', table: 'loaded', mode: 'insert', createTable: true, onFresh: 'truncate' } },
      records,
      connections: { db: { client: 'better-sqlite3', url: 'crash.db' } },
      points: ['written', 'before-checkpoint'],
    });
    expect(report.passed, formatCrashReport(report)).toBe(true);
    const sinks = report.scenarios.map((s) => s.sinks[0]!);
    expect(sinks.every((s) => s.guarantee === 'at-least-once' && s.lost === 0 && s.verdict === 'passed')).toBe(true);
    expect(sinks.some((s) => s.duplicated! > 0), formatCrashReport(report)).toBe(true);
  });
});
