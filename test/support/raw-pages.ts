// One CSV file loaded into a table twice, raw pages on and off (SLUICE_RAW_PAGES), for the tests
// that compare the two: the job each run writes and what the run reports. The table itself is read
// by each test, in the database's own terms.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { sluice } from './cli.js';
import { readJsonl } from './files.js';

export interface RawRunJob {
  /** The job's name. */
  readonly name: string;
  readonly client: string;
  readonly url: string;
  /** The job's `batch:` line. */
  readonly batch: string;
  /** `../FILE.csv` from the run's own folder. */
  readonly file: string;
  readonly mode: 'insert' | 'replace' | 'upsert';
}

/** What a run reports: counts, every step's counts (not its latency), its dead letters, and whether it said rows went in raw. */
export interface RawRunReport {
  readonly counters: Record<string, number>;
  readonly steps: unknown;
  /** Each dead letter without its times. */
  readonly dead: Array<Record<string, unknown>>;
  readonly raw: boolean;
}

/**
 * Writes the job (file source, sql sink into `loaded`, checkpoints and dead letters beside it) into
 * `out` and runs it with raw pages on or off; `rawLog` is the sink's "as they are" log line.
 */
export async function runRawOrRecords(out: string, job: RawRunJob, raw: boolean, rawLog: RegExp, args: string[] = []): Promise<RawRunReport> {
  if (!existsSync(out)) mkdirSync(out);
  const path = join(out, 'job.yaml');
  writeFileSync(
    path,
    `version: 1
name: ${job.name}
connections:
  db: { client: ${job.client}, url: "${job.url}" }
checkpoint: { store: sql, connection: db }
${job.batch}
source:
  use: file
  with: { path: ../${job.file}.csv }
  onError: deadLetter
sink:
  use: sql
  with: { connection: db, table: loaded, mode: ${job.mode === 'upsert' ? 'upsert, key: id' : job.mode} }
  onError: deadLetter
deadLetter:
  use: file
  with: { path: dead.jsonl }
`,
  );
  const result = await sluice(['run', path, '--progress', 'json', ...args], { env: { ...process.env, SLUICE_RAW_PAGES: raw ? '1' : '0' }, timeoutMs: 120_000 });
  expect(result.code, result.stderr).toBe(0);
  const events = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; message?: string; report?: { counters: Record<string, number>; steps: unknown } });
  const report = events.find((e) => e.type === 'end')!.report!;
  const deadFile = join(out, 'dead.jsonl');
  return {
    counters: report.counters,
    steps: (report.steps as Array<Record<string, unknown>>).map(({ p95Ms: _p95, ...step }) => step),
    dead: existsSync(deadFile) ? readJsonl(deadFile).map(({ time: _time, at: _at, ...entry }) => entry) : [],
    raw: events.some((e) => e.type === 'log' && rawLog.test(e.message ?? '')),
  };
}
