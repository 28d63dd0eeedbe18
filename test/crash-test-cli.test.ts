// `sluice crash-test` end to end: the real CLI kills real runs at every fault point, resumes them,
// and judges each sink by its declared guarantee. A broken sink (appends, never truncates, claims
// exactly-once) and a broken source (ignores its cursor) are caught; the built-in file sink, and
// the sql sink with its checkpoint in PostgreSQL or SQLite, pass at every point.
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availability, createDatabase, requireUp, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { sluice, tempDir } from './support/cli.js';

const RECORDS = 60;
const services = await availability();

// Appends each batch to its file and never truncates on a resume, yet declares exactly-once.
const brokenSink = `import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { defineSink } from '@sluice/core';
export default defineSink({
  name: 'append-file',
  description: 'appends each batch to a file; a resume does not cut what the crashed run wrote past its checkpoint',
  schema: { type: 'object', required: ['path'], properties: { path: { type: 'string' } }, additionalProperties: false },
  guarantee: 'exactly-once',
  ordered: true,
  create(config, ctx) {
    const path = ctx.resolvePath(config.path);
    mkdirSync(dirname(path), { recursive: true });
    if (ctx.state === undefined) writeFileSync(path, '');
    return {
      async write(records) { appendFileSync(path, records.map((r) => JSON.stringify(r) + '\\n').join('')); },
      state: () => ({ appended: true }),
    };
  },
  readBack(config, ctx) {
    const path = ctx.resolvePath(config.path);
    return existsSync(path) ? readFileSync(path, 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  },
});
`;

// Reads in.jsonl from the top on every run, whatever cursor the checkpoint hands it.
const brokenSource = `import { readFileSync } from 'node:fs';
import { defineSource } from '@sluice/core';
export default defineSource({
  name: 'forgetful',
  description: 'ignores its cursor: a resume reads everything again',
  schema: { type: 'object', required: ['path'], properties: { path: { type: 'string' } }, additionalProperties: false },
  create(config, ctx) {
    const records = readFileSync(ctx.resolvePath(config.path), 'utf8').split('\\n').filter(Boolean).map((l) => JSON.parse(l));
    return {
      async *read({ batchSize }) {
        for (let at = 0; at < records.length; at += batchSize) yield { records: records.slice(at, at + batchSize), cursor: at + batchSize };
      },
    };
  },
});
`;

const job = (o: { name: string; source?: string; sink: string; extra?: string; step?: string }) => `version: 1
name: ${o.name}
batch: { size: 6, inFlight: 4 }
${o.extra ?? ''}
source: ${o.source ?? '{ use: file, with: { path: in.jsonl } }'}
steps:
  - use: map
    with: { set: { big: record.id > 30 } }
${o.step ?? ''}
sinks:
  - id: out
    ${o.sink}
`;

let dir: string;

beforeAll(() => {
  dir = tempDir('sluice-crash-test-cli-');
  writeFileSync(join(dir, 'in.jsonl'), Array.from({ length: RECORDS }, (_, i) => `${JSON.stringify({ id: i + 1, name: `user-${i + 1}` })}\n`).join(''));
  writeFileSync(join(dir, 'broken-sink.mjs'), brokenSink);
  writeFileSync(join(dir, 'broken-source.mjs'), brokenSource);
  // The plugin modules import @sluice/core: resolve it from the repo.
  mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
  symlinkSync(join(import.meta.dirname, '../packages/core'), join(dir, 'node_modules/@sluice/core'));
});

interface Report {
  passed: boolean;
  records: number;
  batches: number;
  scenarios: Array<{
    point: string;
    crashes: Array<{ point: string; seq?: number }>;
    error?: string;
    passed: boolean;
    source: { verdict: string; lost: number; duplicated: number };
    sinks: Array<{ sink: string; guarantee: string; verdict: string; lost?: number; duplicated?: number; outOfOrder?: number }>;
  }>;
}

async function crashTest(file: string, args: string[] = []): Promise<{ code: number | null; report: Report; stderr: string }> {
  const result = await sluice(['crash-test', file, '--format', 'json', ...args], { cwd: dir, timeoutMs: 600_000 });
  let report: Report;
  try {
    report = JSON.parse(result.stdout) as Report;
  } catch {
    throw new Error(`no JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  return { code: result.code, report, stderr: result.stderr };
}

const scenario = (report: Report, point: string) => report.scenarios.find((s) => s.point === point)!;

describe('sluice crash-test', () => {
  it('passes the built-in file sink at every point, each point really crashed where it can be reached', async () => {
    // Every 7th record is dead-lettered, so the dead-letter file is written (and checked) too.
    const deadLetters = Math.floor(RECORDS / 7);
    const step = '  - use: validate\n    with: { schema: { properties: { id: { not: { multipleOf: 7 } } } } }\n    onError: deadLetter';
    writeFileSync(join(dir, 'file.yaml'), job({ name: 'file-sink', step, sink: 'use: file\n    with: { path: out/result.jsonl }' }));
    const { code, report, stderr } = await crashTest('file.yaml');
    expect(code, stderr).toBe(0);
    expect(report).toMatchObject({ passed: true, records: RECORDS, batches: RECORDS / 6 });
    expect(report.scenarios.map((s) => s.point)).toEqual(['handed', 'pipelined', 'mid-write', 'written', 'between-sinks', 'before-checkpoint', 'after-checkpoint', 'dead-letter']);
    for (const point of ['handed', 'pipelined', 'mid-write', 'written', 'before-checkpoint', 'after-checkpoint', 'dead-letter']) {
      expect(scenario(report, point).crashes.map((c) => c.point), point).toEqual([point]);
    }
    const clean = { guarantee: 'exactly-once', declared: true, ordered: true, verdict: 'passed', lost: 0, duplicated: 0, unexpected: 0, outOfOrder: 0 };
    for (const s of report.scenarios) {
      expect(s.sinks, s.point).toEqual([
        { sink: 'out', ...clean, expected: RECORDS - deadLetters, held: RECORDS - deadLetters },
        { sink: 'deadLetter', ...clean, expected: deadLetters, held: deadLetters },
      ]);
      expect(s.source).toMatchObject({ verdict: 'passed', lost: 0, duplicated: 0, held: RECORDS });
    }
    // The job's own output was not touched: the runs wrote into the scratch folder.
    expect(existsSync(join(dir, 'out/result.jsonl'))).toBe(false);
  });

  it('fails a sink that declares exactly-once but appends again after a resume: duplicates after the write and before the checkpoint', async () => {
    writeFileSync(join(dir, 'broken.yaml'), job({ name: 'broken-sink', sink: 'use: ./broken-sink.mjs\n    with: { path: out/broken.jsonl }' }));
    const { code, report, stderr } = await crashTest('broken.yaml', ['--points', 'written,before-checkpoint,after-checkpoint']);
    expect(code, stderr).toBe(1);
    expect(report.passed).toBe(false);
    for (const point of ['written', 'before-checkpoint']) {
      const s = scenario(report, point);
      expect(s.crashes.map((c) => c.point)).toEqual([point]);
      expect(s.sinks[0]).toMatchObject({ sink: 'out', guarantee: 'exactly-once', verdict: 'failed', lost: 0 });
      expect(s.sinks[0]!.duplicated, point).toBeGreaterThan(0);
      // The source did its part: the duplicates are the sink's.
      expect(s.source.verdict).toBe('passed');
    }
    // The text report names the failing points.
    const text = await sluice(['crash-test', 'broken.yaml', '--points', 'written'], { cwd: dir, timeoutMs: 600_000 });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/written\s+batch \d+ \(out\)\s+\(source\)\s+reads once\s+0\s+0\s+0\s+0\s+passed\n\s+out\s+exactly-once\s+0\s+[1-9]\d*\s+0\s+0\s+failed/);
    expect(text.stdout).toContain('FAILED at written');
  });

  it('catches a source that ignores its cursor: a resume reads the records again', async () => {
    writeFileSync(
      join(dir, 'forgetful.yaml'),
      job({ name: 'forgetful', source: '{ use: ./broken-source.mjs, with: { path: in.jsonl } }', sink: 'use: file\n    with: { path: out/result.jsonl }' }),
    );
    const { code, report, stderr } = await crashTest('forgetful.yaml', ['--points', 'after-checkpoint']);
    expect(code, stderr).toBe(1);
    const s = scenario(report, 'after-checkpoint');
    expect(s.crashes).toHaveLength(1);
    expect(s.source.verdict).toBe('failed');
    expect(s.source.duplicated).toBeGreaterThan(0);
  });

  it('refuses bad options with exit 2 and a clear message', async () => {
    const bad = await sluice(['crash-test', 'file.yaml', '--points', 'sometimes'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--points: unknown point 'sometimes'");
    const missing = await sluice(['crash-test', 'no-such.yaml'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such.yaml');
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});

describe.each([
  ['pg', 'PostgreSQL'],
  ['better-sqlite3', 'SQLite'],
] as const)('sluice crash-test: sql sink with checkpoint.store sql on %s', (client, label) => {
  const { up, skip } = services[client];
  let db: TestDatabase | undefined;
  afterAll(async () => db?.drop());

  it.skipIf(skip)(`passes on ${label}`, async () => {
    requireUp(client, up);
    // SQLite: a file relative to the job, which crash-test redirects into its scratch folder (it
    // does not exist: the sink creates its table). PostgreSQL: a database of this test's own.
    let url = 'out/crash.db';
    if (client === 'pg') {
      db = await createDatabase(client, dir);
      await db.knex.raw('create table loaded (id integer not null, name text, big boolean)');
      url = db.url;
    }
    writeFileSync(
      join(dir, `sql-${client}.yaml`),
      job({
        name: `sql-${client.replace(/[^a-z]/g, '')}`,
        extra: `connections:\n  db: { client: ${client}, url: "${url}" }\ncheckpoint: { store: sql, connection: db }`,
        sink: `use: sql\n    with: { connection: db, table: loaded, mode: insert, onFresh: truncate${client === 'better-sqlite3' ? ', createTable: true' : ''} }`,
      }),
    );
    // Every point on PostgreSQL; on SQLite (whose sink's own crashTest covers every point) those around a commit.
    const { code, report, stderr } = await crashTest(`sql-${client}.yaml`, client === 'pg' ? [] : ['--points', 'handed,written,before-checkpoint,after-checkpoint']);
    expect(code, stderr).toBe(0);
    expect(report.passed).toBe(true);
    expect(report.scenarios).toHaveLength(client === 'pg' ? 8 : 4);
    for (const s of report.scenarios) {
      expect(s.sinks[0], s.point).toMatchObject({ sink: 'out', guarantee: 'exactly-once', verdict: 'passed', lost: 0, duplicated: 0, held: RECORDS });
    }
    // SQLite writes synchronously: a write is never caught in the middle.
    for (const point of ['handed', ...(client === 'pg' ? ['mid-write'] : []), 'written', 'before-checkpoint', 'after-checkpoint']) {
      expect(scenario(report, point).crashes.map((c) => c.point), point).toEqual([point]);
    }
    if (db) {
      // The sink wrote where the job said: the last scenario's rows are in the test database.
      const [{ n }] = (await db.knex.raw('select count(*)::int as n from loaded')).rows as Array<{ n: number }>;
      expect(n).toBe(RECORDS);
    } else {
      expect(existsSync(join(dir, 'out/crash.db'))).toBe(false);
    }
  });
});
