import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BIN, sluice, tempDir } from './support/cli.js';
import { readJsonl, STACK_LINE, writeFiles } from './support/files.js';

/** A file → file job over `input` (extra source options after the path). */
const job = (input: string, extra = '', onError = 'deadLetter') => `version: 1
name: safety
source:
  use: file
  with: { path: ${input}${extra} }
  onError: ${onError}
sink:
  use: file
  with: { path: out.jsonl }
`;

function setUp(files: Record<string, string | Buffer>) {
  const dir = tempDir('sluice-input-safety-');
  writeFiles(dir, files);
  const run = (...args: string[]) => sluice(['run', join(dir, 'job.yaml'), '--progress', 'none', ...args], { cwd: dir, timeoutMs: 60_000 });
  const dead = () => (existsSync(join(dir, '.sluice/dead-letter/safety.jsonl')) ? readJsonl(join(dir, '.sluice/dead-letter/safety.jsonl')) : []);
  return { dir, run, dead, out: () => readFileSync(join(dir, 'out.jsonl'), 'utf8') };
}

const lines = (ids: number[]) => ids.map((id) => `{"id":${id}}\n`).join('');

describe('a resumed run checks that its input file is the one it checkpointed (issue 13 item 3)', () => {
  it('a finished job whose input was replaced by a longer file is refused with exit 2, naming the file and --fresh', async () => {
    const { dir, run, out } = setUp({ 'job.yaml': job('in.jsonl'), 'in.jsonl': lines([1, 2]) });
    expect((await run()).code).toBe(0);
    writeFileSync(join(dir, 'next.jsonl'), lines([10, 11, 12, 13]));
    renameSync(join(dir, 'next.jsonl'), join(dir, 'in.jsonl'));
    const refused = await run();
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/'in\.jsonl' is not the file the checkpoint was made from: its first 18 bytes changed; .*--fresh/);
    expect(refused.stderr).not.toMatch(STACK_LINE);
    expect(out()).toBe(lines([1, 2]));
    const fresh = await run('--fresh');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(out()).toBe(lines([10, 11, 12, 13]));
  });

  it('a file appended to is resumed: only the new records are read', async () => {
    const { dir, run, out } = setUp({ 'job.yaml': job('in.jsonl'), 'in.jsonl': lines([1, 2]) });
    expect((await run()).code).toBe(0);
    appendFileSync(join(dir, 'in.jsonl'), lines([3, 4]));
    const resumed = await run();
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/this run: 2 records/);
    expect(out()).toBe(lines([1, 2, 3, 4]));
  });
});

describe('a last line still being written is not consumed (issue 13 item 4)', () => {
  it('the checkpoint stays before it; once the writer completes it, the next run reads it whole', async () => {
    const { dir, run, out, dead } = setUp({ 'job.yaml': job('in.jsonl'), 'in.jsonl': '{"id":1}\n{"id":2}\n{"id":3,"na' });
    const first = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'plain'], { cwd: dir, timeoutMs: 60_000 });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout + first.stderr).toMatch(/last line of 'in\.jsonl' \(line 3, 11 bytes\) has no line break and is not valid JSON yet/);
    expect(out()).toBe('{"id":1}\n{"id":2}\n');
    appendFileSync(join(dir, 'in.jsonl'), 'me":"x"}\n{"id":4}\n');
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    expect(out()).toBe('{"id":1}\n{"id":2}\n{"id":3,"name":"x"}\n{"id":4}\n');
    expect(dead()).toEqual([]);
  });
});

describe('numbers are never changed silently (issue 13 item 5)', () => {
  it('a pass-through JSON Lines job writes big integers back digit for digit; a number no double holds is a dead letter with its line', async () => {
    const input = '{"id":12345678901234567890,"n":-98765432109876543210}\n{"id":2,"x":1e400}\n{"id":3,"a":1.5,"b":[9007199254740993]}\n';
    const { run, out, dead } = setUp({ 'job.yaml': job('in.jsonl'), 'in.jsonl': input });
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    expect(out()).toBe('{"id":12345678901234567890,"n":-98765432109876543210}\n{"id":3,"a":1.5,"b":[9007199254740993]}\n');
    expect(dead().map((d) => ({ position: d.position, raw: d.raw, error: d.error }))).toEqual([
      { position: { file: 'in.jsonl', line: 2 }, raw: '{"id":2,"x":1e400}', error: expect.stringMatching(/^the number 1e400 cannot be held exactly/) },
    ]);
  });
});

/** Runs the CLI under /usr/bin/time: the exit code, output and the peak RSS in MB. */
function runMeasured(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string; rssMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'peak %M', process.execPath, BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`timed out\n${stderr}`))), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, rssMb: Number(/peak (\d+)/.exec(stderr)?.[1] ?? NaN) / 1024 });
    });
  });
}

describe('bounded lines (issue 13 item 12)', () => {
  it('a .gz that inflates to 512 MiB without a line break ends as a record error at line 2, in bounded memory', async () => {
    const member = gzipSync(Buffer.alloc(1 << 20, 0x61)); // 1 MiB of "a", ~1 KB compressed
    const bomb = Buffer.concat([gzipSync('{"id":1}\n'), ...Array.from({ length: 512 }, () => member), gzipSync('\n{"id":3}\n')]);
    const { dir, dead, out } = setUp({ 'job.yaml': job('in.jsonl.gz'), 'in.jsonl.gz': bomb });
    const result = await runMeasured(['run', join(dir, 'job.yaml'), '--progress', 'none'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect(out()).toBe('{"id":1}\n{"id":3}\n');
    expect(dead().map((d) => ({ position: d.position, error: (d.error as string).slice(0, 44), raw: (d.raw as string).slice(0, 5) }))).toEqual([
      { position: { file: 'in.jsonl.gz', line: 2 }, error: 'line longer than 67,108,864 bytes (maxLineBy', raw: 'aaaaa' },
    ]);
    expect(result.rssMb).toBeLessThan(400);
  });

  it('maxLineBytes is configurable; with onError: fail the run fails naming the line', async () => {
    const { run } = setUp({ 'job.yaml': job('in.jsonl', ', maxLineBytes: 1024', 'fail'), 'in.jsonl': `{"id":1}\n{"x":"${'y'.repeat(5000)}"}\n` });
    const result = await run();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/in\.jsonl:2\b.*line longer than 1,024 bytes \(maxLineBytes\)/);
  });
});

describe('bytes that are not UTF-8 (issue 13 item 15) and odd CSV headers (item 16)', () => {
  it('a line with invalid UTF-8 is dead-lettered with its bytes in base64; nothing is replaced by U+FFFD', async () => {
    const input = Buffer.concat([Buffer.from('{"id":1,"s":"é"}\n{"id":2,"s":"'), Buffer.from([0xe9]), Buffer.from('"}\n{"id":3}\n')]);
    const { run, out, dead } = setUp({ 'job.yaml': job('in.jsonl'), 'in.jsonl': input });
    expect((await run()).code).toBe(0);
    expect(out()).toBe('{"id":1,"s":"é"}\n{"id":3}\n');
    expect(out()).not.toContain('\ufffd');
    const [entry] = dead();
    expect(entry).toMatchObject({ position: { file: 'in.jsonl', line: 2 }, error: expect.stringMatching(/^invalid UTF-8 at byte 14 of the line \(0xe9\)/) });
    expect(Buffer.from(entry!.raw as string, 'base64')).toEqual(input.subarray(18, 34));
  });

  it('a CSV header named __proto__ is an own column, and cast with empty cells gives plain objects', async () => {
    const { run, out } = setUp({ 'job.yaml': job('in.csv', ', csv: { cast: true }'), 'in.csv': 'id,__proto__,note\n1,,x\n2,7,\n' });
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    expect(out()).toBe('{"id":1,"__proto__":null,"note":"x"}\n{"id":2,"__proto__":7,"note":null}\n');
  });
});
