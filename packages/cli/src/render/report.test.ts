import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyJobCounters, type RunSummary } from '@sluice/core/internal';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { summaryText } from './format.js';
import { reportOf } from './report.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const schema = JSON.parse(readFileSync(join(import.meta.dirname, '../../report.schema.json'), 'utf8')) as object;
const ajv = addFormats(new Ajv({ strict: true, allErrors: true }));
const validate = ajv.compile(schema);
const valid = (report: unknown) => {
  const ok = validate(report);
  return ok ? 'valid' : ajv.errorsText(validate.errors);
};

const done: RunSummary = {
  job: 'hello',
  status: 'done',
  durationMs: 2000,
  counters: { read: 20, produced: 1, written: 14, filtered: 4, deadLettered: 2, skipped: 1, retries: 3 },
  thisRun: { read: 20, produced: 1, written: 14, filtered: 4, deadLettered: 2, skipped: 1, retries: 3 },
  steps: [
    { id: 'source', kind: 'source', use: 'file', in: 0, out: 20, filtered: 0, failed: 0, retries: 0, retrying: 0, active: 0, rate: 0, p95Ms: undefined },
    { id: 'split', kind: 'transform', use: './split.mjs', in: 20, out: 17, filtered: 4, failed: 0, retries: 0, retrying: 0, active: 0, rate: 10, p95Ms: 0.0123456 },
    { id: 'check', kind: 'transform', use: 'validate', in: 17, out: 14, filtered: 0, failed: 3, retries: 3, retrying: 0, active: 0, rate: 10, p95Ms: 0.2 },
    { id: 'sink', kind: 'sink', use: 'file', in: 14, out: 14, filtered: 0, failed: 0, retries: 0, retrying: 0, active: 0, rate: 7, p95Ms: 1.5 },
  ],
  deadLetterPath: '/abs/out/hello.rejects.jsonl',
  checkpoint: { seq: 0, cursor: { file: 0, name: 'users.csv', offset: 1011, line: 21, key: 's3cret' } },
  dryRun: false,
  resumed: false,
};

const context = {
  file: 'jobs/hello.yaml',
  startedAt: Date.UTC(2025, 0, 1),
  checkpoint: '.sluice/checkpoints/hello.json',
  deadLetterPath: 'out/hello.rejects.jsonl',
  redact: (t: string) => t.split('s3cret').join('***'),
};

describe('the run report', () => {
  it('holds the summary as data, and matches its schema', () => {
    const report = reportOf(done, context);
    expect(valid(report)).toBe('valid');
    expect(report).toMatchObject({
      version: 1,
      job: 'hello',
      file: 'jobs/hello.yaml',
      status: 'done',
      error: null,
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:00:02.000Z',
      durationMs: 2000,
      balanced: true,
      equation: 'read 20 + produced 1 = written 14 + filtered 4 + dead-lettered 2 + skipped 1',
      throughput: { recordsPerSecond: 10 },
      deadLetters: { count: 2, path: 'out/hello.rejects.jsonl' },
      checkpoint: { location: '.sluice/checkpoints/hello.json', seq: 0, cursor: { file: 0, name: 'users.csv', offset: 1011, line: 21, key: '***' } },
    });
    expect(report.steps.map((s) => [s.id, s.in, s.out, s.filtered, s.failed, s.retries, s.p95Ms])).toEqual([
      ['source', 0, 20, 0, 0, 0, null],
      ['split', 20, 17, 4, 0, 0, 0.012],
      ['check', 17, 14, 0, 3, 3, 0.2],
      ['sink', 14, 14, 0, 0, 0, 1.5],
    ]);
  });

  it('matches its schema for a failed run, an interrupted one and a dry run', () => {
    const failed = reportOf({ ...done, status: 'failed', error: "source 'source' failed: ENOENT", steps: [], counters: emptyJobCounters(), thisRun: emptyJobCounters(), checkpoint: undefined, deadLetterPath: undefined }, context);
    expect(valid(failed)).toBe('valid');
    expect(failed).toMatchObject({ status: 'failed', error: "source 'source' failed: ENOENT", deadLetters: { count: 0, path: null }, checkpoint: { seq: null, cursor: null } });
    const interrupted = reportOf({ ...done, status: 'interrupted', error: 'stopped by q', resumed: true }, context);
    expect(valid(interrupted)).toBe('valid');
    const dry = reportOf({ ...done, dryRun: true, checkpoint: undefined }, { ...context, checkpoint: null });
    expect(valid(dry)).toBe('valid');
    expect(dry.checkpoint).toBeNull();
  });

  it('is refused by the schema when a field is missing, misspelt or of the wrong type', () => {
    const report = reportOf(done, context) as unknown as Record<string, unknown>;
    expect(valid({ ...report, status: 'ok' })).toMatch(/status must be equal to one of the allowed values/);
    expect(valid({ ...report, extra: 1 })).toMatch(/must NOT have additional properties/);
    const { equation: _, ...without } = report;
    expect(valid(without)).toMatch(/must have required property 'equation'/);
  });
});

describe('the final summary', () => {
  it('prints the counts per step, the equation, duration, throughput, retries and where the dead letters are', () => {
    const text = summaryText({ ...done, deadLetterPath: 'out/hello.rejects.jsonl' }, { checkpoint: '.sluice/checkpoints/hello.json' });
    expect(text.split('\n')).toEqual([
      'hello: done in 2.0s',
      '  read 20 + produced 1 = written 14 + filtered 4 + dead-lettered 2 + skipped 1',
      '  this run: 20 records in 2.0s (10/s), 3 retries',
      '  step                 in  out  filtered  failed  retries          p95',
      '  source (file)         -   20         -       0        -            -',
      '  split (./split.mjs)  20   17         4       0        0         12us',
      '  check (validate)     17   14         0       3        3        200us',
      '  sink (file)          14   14         -       0        0  1.5ms/batch',
      '  dead letters: out/hello.rejects.jsonl (2)',
      '  checkpoint: batch 0 in .sluice/checkpoints/hello.json',
    ]);
  });

  it('breaks the equation on a narrow terminal, and says "so far" when the run did not finish', () => {
    const big = { read: 1_000_000, produced: 0, written: 498_620, filtered: 501_380, deadLettered: 0, skipped: 0, retries: 0 };
    const text = summaryText({ ...done, status: 'interrupted', error: 'stopped by q', counters: big, thisRun: big }, { columns: 80 });
    expect(text.split('\n').slice(0, 4)).toEqual([
      'hello: interrupted after 2.0s; the checkpoint is saved, run again to resume',
      '  error: stopped by q',
      '  read 1,000,000 = written 498,620 + filtered 501,380',
      '                 + dead-lettered 0 + skipped 0 (so far)',
    ]);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });
});
