import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { balances, readJsonl, STACK_LINE, writeFiles } from './support/files.js';

/** A file → file job reading `input`, with the source's `onError`. */
const job = (name: string, input: string, onError?: string, extra = '') => `version: 1
name: ${name}
source:
  use: file
  with: { path: ${input}${extra} }
${onError ? `  onError: ${onError}\n` : ''}sink:
  use: file
  with: { path: out/result.jsonl }
`;

/** Sets up a folder with the job and its input, runs it, and returns what there is to look at. */
async function runJob(files: Record<string, string | Buffer>, args: string[] = []) {
  const dir = tempDir('sluice-malformed-');
  writeFiles(dir, files);
  const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none', '--report', join(dir, 'report.json'), ...args], { cwd: dir, timeoutMs: 30_000 });
  const report = existsSync(join(dir, 'report.json')) ? JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) : undefined;
  const deadLetterFile = join(dir, '.sluice/dead-letter', `${/name: (\S+)/.exec(files['job.yaml'] as string)![1]}.jsonl`);
  return {
    dir,
    result,
    report,
    output: () => readJsonl(join(dir, 'out/result.jsonl')),
    deadLetters: () => (existsSync(deadLetterFile) ? readJsonl(deadLetterFile) : []),
  };
}

// Line 1 good; 2 truncated; 3 blank (not a record); 4 good; 5 not JSON; 6 an array; 7 good, CRLF; 8 good, no final newline.
const JSONL = ['{"id":1}', '{"id":2,', '', '{"id":3}', 'not json', '[1,2]', '{"id":4}\r', '{"id":5}'].join('\n');
const JSONL_BAD = [
  { line: 2, raw: '{"id":2,', error: /invalid JSON/ },
  { line: 5, raw: 'not json', error: /invalid JSON/ },
  { line: 6, raw: '[1,2]', error: /expected a JSON object, got an array/ },
];

// Line 1 header; 2 good; 3 a field short; 4–5 one good record with a quoted line break; 6 a field too many;
// 7 good; 8 a stray quote in an unquoted field; 9 good.
const CSV = ['id,name,score', '1,ann,5', '2,bob', '3,"cy\nline two",7', '4,dee,8,extra', '5,eve,9', '6,f"ay,10', '7,gus,12', ''].join('\n');
const CSV_BAD = [
  { line: 3, raw: '2,bob', error: /wrong number of fields: expected 3, got 2/ },
  { line: 6, raw: '4,dee,8,extra', error: /wrong number of fields: expected 3, got 4/ },
  { line: 8, raw: '6,f"ay,10', error: /quote/ },
];
const CSV_GOOD = [
  { id: '1', name: 'ann', score: '5' },
  { id: '3', name: 'cy\nline two', score: '7' },
  { id: '5', name: 'eve', score: '9' },
  { id: '7', name: 'gus', score: '12' },
];

describe('malformed lines with onError: deadLetter on the source', () => {
  it('JSON Lines: bad lines are dead-lettered with file, line and raw text; good records are written; the counts balance', async () => {
    const { result, report, output, deadLetters } = await runJob({ 'job.yaml': job('bad-jsonl', 'in.jsonl', 'deadLetter'), 'in.jsonl': JSONL });
    expect(result.code, result.stderr).toBe(0);
    expect(output()).toEqual([{ id: 1 }, { id: 3 }, { id: 4 }, { id: 5 }]);
    const dead = deadLetters();
    expect(dead.map((d) => ({ step: d.step, position: d.position, raw: d.raw }))).toEqual(
      JSONL_BAD.map((b) => ({ step: 'source', position: { file: 'in.jsonl', line: b.line }, raw: b.raw })),
    );
    dead.forEach((d, i) => expect(d.error).toMatch(JSONL_BAD[i]!.error));
    expect(report.status).toBe('done');
    expect(report.counters).toMatchObject({ read: 7, written: 4, filtered: 0, deadLettered: 3, skipped: 0 });
    expect(balances(report.counters)).toBe(true);
  });

  it('CSV: rows with a wrong field count or a stray quote are dead-lettered at their line (a quoted line break counts); good rows are written', async () => {
    const { result, report, output, deadLetters } = await runJob({ 'job.yaml': job('bad-csv', 'in.csv', 'deadLetter'), 'in.csv': CSV });
    expect(result.code, result.stderr).toBe(0);
    expect(output()).toEqual(CSV_GOOD);
    const dead = deadLetters();
    expect(dead.map((d) => ({ step: d.step, position: d.position }))).toEqual(CSV_BAD.map((b) => ({ step: 'source', position: { file: 'in.csv', line: b.line } })));
    dead.forEach((d, i) => expect(d.error).toMatch(CSV_BAD[i]!.error));
    expect(dead.map((d) => d.raw)).toEqual(CSV_BAD.map((b) => b.raw));
    expect(report.counters).toMatchObject({ read: 7, written: 4, filtered: 0, deadLettered: 3, skipped: 0 });
    expect(balances(report.counters)).toBe(true);
  });

  it('CSV: the raw text of a row with a stray quote is the whole row', async () => {
    const { deadLetters } = await runJob({ 'job.yaml': job('bad-quote-raw', 'in.csv', 'deadLetter'), 'in.csv': 'id,name,score\n1,ann,5\n6,f"ay,10\n7,gus,12\n' });
    expect(deadLetters().map((d) => d.raw)).toEqual(['6,f"ay,10']);
  });

  it('CSV: a field with text after its closing quote costs only its own row', async () => {
    const { result, report, output, deadLetters } = await runJob({
      'job.yaml': job('bad-closing-quote', 'in.csv', 'deadLetter'),
      'in.csv': 'id,name,score\n1,ann,5\n3,"cy"x,7\n4,dee,8\n7,gus,12\n',
    });
    expect(result.code, result.stderr).toBe(0);
    expect(output().map((r) => r.id)).toEqual(['1', '4', '7']);
    expect(deadLetters().map((d) => ({ position: d.position, raw: d.raw }))).toEqual([{ position: { file: 'in.csv', line: 3 }, raw: '3,"cy"x,7' }]);
    expect(report.counters).toMatchObject({ read: 4, written: 3, deadLettered: 1 });
  });

  it('CSV: malformed rows scattered through 10,000 rows are dead-lettered at their lines; every other row is written once', async () => {
    // Each kind of bad row several times: the first data row, two in a row, the last row (without a
    // final newline), and the row across the first 1 MiB read; quoted line breaks shift the lines.
    const kinds = [
      (id: number) => `${id},f"ay,${id}`, // a stray quote
      (id: number) => `${id},"cy"x,${id}`, // text after the closing quote
      (id: number) => `${id},"say ""hi"" \n twice"!,${id}`, // the same after escaped quotes and a quoted line break
      (id: number) => `${id},short`, // a field short
    ];
    const badIds = new Set([1, 2, 3, 500, 1234, 2048, 4000, 6001, 6002, 7777, 9000, 10_000]);
    const rows = ['id,name,score'];
    const bad: Array<{ line: number; raw: string }> = [];
    const good: number[] = [];
    let line = 2;
    let bytes = rows[0]!.length + 1;
    let crossed = false;
    for (let id = 1; id <= 10_000; id++) {
      let row = id % 97 === 0 ? `${id},"two\nlines ${id}",${id}` : `${id},name ${id} ${'x'.repeat(id % 181)},${id}`;
      const across = !crossed && bytes + row.length + 1 > 1 << 20;
      crossed ||= across;
      if (badIds.has(id) || across) {
        row = kinds[bad.length % kinds.length]!(id);
        bad.push({ line, raw: row });
      } else {
        good.push(id);
      }
      rows.push(row);
      line += row.split('\n').length;
      bytes += Buffer.byteLength(row) + 1;
    }
    expect(crossed).toBe(true);
    const { result, report, output, deadLetters } = await runJob({ 'job.yaml': job('scattered-csv', 'in.csv', 'deadLetter'), 'in.csv': rows.join('\n') });
    expect(result.code, result.stderr).toBe(0);
    expect(output().map((r) => Number(r.id))).toEqual(good);
    const dead = deadLetters();
    expect(dead.map((d) => ({ position: d.position, raw: d.raw }))).toEqual(bad.map((b) => ({ position: { file: 'in.csv', line: b.line }, raw: b.raw })));
    dead.forEach((d) => expect(d.error).toMatch(/quote|wrong number of fields/));
    expect(report.counters).toMatchObject({ read: 10_000, written: good.length, deadLettered: bad.length, skipped: 0 });
    expect(balances(report.counters)).toBe(true);
  });
});

describe('malformed lines with onError: fail (the default)', () => {
  it('JSON Lines: exit 1, and stderr names file:line and the error, without a stack trace', async () => {
    const { result, report } = await runJob({ 'job.yaml': job('fail-jsonl', 'in.jsonl', 'fail'), 'in.jsonl': JSONL });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('in.jsonl:2');
    expect(result.stderr).toMatch(/in\.jsonl:2\b.*invalid JSON/);
    expect(result.stderr).not.toMatch(STACK_LINE);
    expect(result.stdout + result.stderr).not.toContain('internal error');
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/in\.jsonl:2\b.*invalid JSON/);
  });

  it('CSV (onError not given): exit 1, and stderr names file:line and the error, without a stack trace', async () => {
    const { result } = await runJob({ 'job.yaml': job('fail-csv', 'in.csv'), 'in.csv': CSV });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/in\.csv:3\b.*wrong number of fields/);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });
});

describe('malformed lines with onError: skip', () => {
  it.each([
    ['JSON Lines', 'skip-jsonl', 'in.jsonl', JSONL, 4],
    ['CSV', 'skip-csv', 'in.csv', CSV, 4],
  ])('%s: bad records are counted as skipped, good ones written, nothing dead-lettered', async (_kind, name, input, content, good) => {
    const { result, report, output, deadLetters } = await runJob({ 'job.yaml': job(name, input, 'skip'), [input]: content });
    expect(result.code, result.stderr).toBe(0);
    expect(output()).toHaveLength(good);
    expect(deadLetters()).toEqual([]);
    expect(report.counters).toMatchObject({ read: good + 3, written: good, filtered: 0, deadLettered: 0, skipped: 3 });
    expect(result.stdout).toContain(`read ${good + 3} = written ${good} + filtered 0 + dead-lettered 0 + skipped 3`);
  });
});

describe('edge cases of well-formed input', () => {
  it.each([
    ['JSON Lines', 'empty-jsonl', 'in.jsonl'],
    ['CSV', 'empty-csv', 'in.csv'],
  ])('%s: an empty file → exit 0, an empty output, read 0', async (_kind, name, input) => {
    const { dir, result, report } = await runJob({ 'job.yaml': job(name, input, 'fail'), [input]: '' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('read 0 = written 0 + filtered 0 + dead-lettered 0 + skipped 0');
    expect(report.counters).toMatchObject({ read: 0, written: 0 });
    expect(statSync(join(dir, 'out/result.jsonl')).size).toBe(0);
  });

  it('CSV with a UTF-8 byte order mark: the first column is named without it', async () => {
    const { result, output } = await runJob({ 'job.yaml': job('bom-csv', 'in.csv', 'fail', ', csv: { cast: true }'), 'in.csv': '\uFEFFid,name\n1,ann\n2,bob\n' });
    expect(result.code, result.stderr).toBe(0);
    const records = output();
    expect(records).toEqual([
      { id: 1, name: 'ann' },
      { id: 2, name: 'bob' },
    ]);
    expect(Object.keys(records[0]!)[0]).toBe('id');
  });

  it('JSON Lines with a UTF-8 byte order mark: the first record is read intact', async () => {
    const { result, output, report } = await runJob({ 'job.yaml': job('bom-jsonl', 'in.jsonl', 'fail'), 'in.jsonl': '\uFEFF{"id":1,"name":"ann"}\n{"id":2,"name":"bob"}\n' });
    expect(result.code, result.stderr).toBe(0);
    expect(output()).toEqual([
      { id: 1, name: 'ann' },
      { id: 2, name: 'bob' },
    ]);
    expect(report.counters).toMatchObject({ read: 2, written: 2, deadLettered: 0 });
  });

  it('a 10 MB JSON line (one record with a 10 MB string) passes through intact', async () => {
    // Two-byte characters, an escape and a quote: chunk boundaries fall inside characters.
    const big = `${'é'.repeat(5 * 1024 * 1024)}"\\\n${'z'.repeat(1000)}`;
    const input = `${JSON.stringify({ id: 1, big })}\n${JSON.stringify({ id: 2, small: 'x' })}\n`;
    expect(Buffer.byteLength(input)).toBeGreaterThan(10 * 1024 * 1024);
    const { dir, result, report } = await runJob({ 'job.yaml': job('big-line', 'in.jsonl', 'fail'), 'in.jsonl': input });
    expect(result.code, result.stderr).toBe(0);
    expect(report.counters).toMatchObject({ read: 2, written: 2 });
    const output = readFileSync(join(dir, 'out/result.jsonl'));
    expect(output.equals(Buffer.from(input))).toBe(true);
  });
});
