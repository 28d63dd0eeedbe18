import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir } from './support/cli.js';

/** The first attempt at every 500th record fails, and each record waits a millisecond: a run of a couple of seconds with retries. */
const flaky = `import { defineTransform } from '@sluice/core';
export default defineTransform({
  name: 'flaky',
  description: 'fails the first attempt at every 500th record',
  schema: { type: 'object', additionalProperties: false },
  create() {
    const failed = new Set();
    return {
      process: async (record) => {
        if (record.id % 500 === 7 && !failed.has(record.id)) {
          failed.add(record.id);
          throw new Error('upstream busy for record ' + record.id + ' (token s3cret-token)');
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
        return record;
      },
    };
  },
});
`;

const job = (name: string) => `version: 1
name: ${name}
batch: { size: 250, inFlight: 4 }
source:
  use: file
  with: { path: input.jsonl }
steps:
  - id: enrich
    use: ./flaky.mjs
    concurrency: 4
    retry: { attempts: 3, initialDelay: 50ms }
  - id: keep
    use: filter
    with: { where: record.id % 10 != 0 }
  - id: check
    use: validate
    with:
      schema: { type: object, required: [email], properties: { email: { type: string, format: email } } }
    onError: deadLetter
sink:
  use: file
  with: { path: out/${name}.jsonl }
deadLetter:
  use: file
  with: { path: out/${name}.rejects.jsonl }
`;

const RECORDS = 4000;
const EQUATION = 'read 4,000 = written 3,596 + filtered 400 + dead-lettered 4 + skipped 0';
let dir: string;
const validateReport = new Ajv({ strict: true, allErrors: true, validateFormats: false }).compile(
  JSON.parse(readFileSync(join(ROOT, 'packages/cli/report.schema.json'), 'utf8')) as object,
);

beforeAll(() => {
  dir = tempDir('sluice-modes-');
  mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
  symlinkSync(join(ROOT, 'packages/core'), join(dir, 'node_modules/@sluice/core'));
  writeFileSync(join(dir, 'flaky.mjs'), flaky);
  for (const name of ['plain', 'auto', 'json', 'none', 'report']) writeFileSync(join(dir, `${name}.yaml`), job(name));
  let input = '';
  for (let id = 0; id < RECORDS; id++) input += `${JSON.stringify({ id, email: id % 1000 === 13 ? 'not-an-email' : `u${id}@example.com` })}\n`;
  writeFileSync(join(dir, 'input.jsonl'), input);
});

describe('sluice run --progress', () => {
  it('plain: a line for the start, the retries, dead letters and checkpoints, on stderr; the summary on stdout', async () => {
    const result = await sluice(['run', 'plain.yaml', '--progress', 'plain'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines[0]).toBe('plain: starting — file input.jsonl');
    expect(lines).toContain('154 KB to read');
    expect(lines).toContain('retrying in enrich (attempt 2): upstream busy for record 7 (token s3cret-token)');
    expect(lines.find((l) => l.startsWith('dead-lettered in check: '))).toBe('dead-lettered in check: email: must match format "email" (got "not-an-email")');
    expect(lines).toContain('checkpoint: batch 0, 250 records read');
    for (const line of lines) expect(line).toMatch(/^(plain: starting|154 KB to read|retrying in enrich|dead-lettered in check|checkpoint: batch|\d+:\d\d {2}read )/);
    expect(result.stdout).toMatch(/^plain: done in [\d.]+m?s\n/);
    expect(result.stdout).toContain(`  ${EQUATION}\n`);
    expect(result.stdout).toMatch(/ {2}this run: 4,000 records in [\d.]+m?s \([\d,.k]+\/s\), 8 retries\n/);
    expect(result.stdout).toMatch(/\n {2}check \(validate\) +3,600 +3,596 +0 +4 +0 /);
    expect(result.stdout).toContain('  dead letters: out/plain.rejects.jsonl (4)\n');
    expect(result.stdout).toContain('  checkpoint: batch 15 in .sluice/checkpoints/plain.json\n');
  }, 180_000);

  it('auto without a terminal (CI, a pipe) is plain', async () => {
    const result = await sluice(['run', 'auto.yaml'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.split('\n')[0]).toBe('auto: starting — file input.jsonl');
    expect(result.stderr).not.toContain('\u001B[');
  }, 180_000);

  it('json: one event per line on stdout, ending with the report; the summary on stderr', async () => {
    const result = await sluice(['run', 'json.yaml', '--progress', 'json', '--set', 'steps[0].concurrency=1'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { type: string; time: string });
    const types = new Set(events.map((e) => e.type));
    for (const type of ['start', 'estimate', 'progress', 'retry', 'deadLetter', 'checkpoint', 'end']) expect(types, [...types].join()).toContain(type);
    for (const e of events) expect(Date.parse(e.time)).not.toBeNaN();
    expect(events[0]).toMatchObject({ type: 'start', job: 'json', resumed: false, dryRun: false });
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ step: 'enrich', attempt: 2, error: 'upstream busy for record 7 (token s3cret-token)', position: { line: 8 } });
    expect(events.find((e) => e.type === 'deadLetter')).toMatchObject({ step: 'check', position: { line: 14 } });
    expect(events.find((e) => e.type === 'checkpoint')).toMatchObject({ seq: 0, counters: { read: 250 } });
    const progress = events.find((e) => e.type === 'progress')!;
    expect(progress).toMatchObject({ job: 'json', phase: 'running', total: { unit: 'bytes' } });
    expect((progress.steps as Array<{ id: string }>).map((s) => s.id)).toEqual(['source', 'enrich', 'keep', 'check', 'sink']);
    const end = events.at(-1)!;
    expect(end.type).toBe('end');
    expect(validateReport(end.report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(end.report).toMatchObject({ status: 'done', equation: EQUATION, balanced: true });
    expect(result.stderr).toContain(`  ${EQUATION}`);
  }, 180_000);

  it('none: only the final summary', async () => {
    const result = await sluice(['run', 'none.yaml', '--progress', 'none'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')[0]).toMatch(/^none: done in /);
    expect(result.stdout).toContain(EQUATION);
  }, 180_000);

  it('--report writes the summary as JSON that matches report.schema.json', async () => {
    const result = await sluice(['run', 'report.yaml', '--progress', 'none', '--report', 'out/report.json'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'out/report.json'), 'utf8'));
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true);
    expect(report).toMatchObject({
      version: 1,
      job: 'report',
      file: 'report.yaml',
      status: 'done',
      error: null,
      counters: { read: 4000, produced: 0, written: 3596, filtered: 400, deadLettered: 4, skipped: 0, retries: 8 },
      balanced: true,
      equation: EQUATION,
      deadLetters: { count: 4, path: 'out/report.rejects.jsonl' },
      checkpoint: { location: '.sluice/checkpoints/report.json', seq: 15, cursor: { name: 'input.jsonl', line: 4000 } },
    });
    expect(report.steps.map((s: { id: string; in: number; out: number; failed: number }) => [s.id, s.in, s.out, s.failed])).toEqual([
      ['source', 0, 4000, 0],
      ['enrich', 4000, 4000, 0],
      ['keep', 4000, 3600, 0],
      ['check', 3600, 3596, 4],
      ['sink', 3596, 3596, 0],
    ]);
    expect(report.throughput.recordsPerSecond).toBeGreaterThan(0);

    // A run that fails still reports, with its error and exit code 1.
    const failed = await sluice(['run', 'report.yaml', '--fresh', '--progress', 'none', '--report', 'out/failed.json', '--set', 'source.with.path=missing.jsonl'], { cwd: dir });
    expect(failed.code).toBe(1);
    const failure = JSON.parse(readFileSync(join(dir, 'out/failed.json'), 'utf8'));
    expect(validateReport(failure), JSON.stringify(validateReport.errors)).toBe(true);
    expect(failure).toMatchObject({ status: 'failed', error: expect.stringContaining('missing.jsonl') });
  }, 180_000);
});
