import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finished, sluice, start, tempDir } from './support/cli.js';
import { balances, readJsonl, STACK_LINE, writeFiles, type Counters } from './support/files.js';

const T = { timeoutMs: 60_000 };
/** A loaded machine takes tens of seconds per CLI run. */
const LONG = 150_000;

const job = (where: string, timeout = '2s') => `version: 1
name: hostile
batch: { size: 50 }
source:
  use: file
  with: { path: in.jsonl }
steps:
  - use: filter
    timeout: ${timeout}
    onError: deadLetter
    with:
      where: ${JSON.stringify(where)}
sink:
  use: file
  with: { path: out.jsonl }
`;

/** Strings on which /(a+)+$/ backtracks for minutes: 32 a's and a b. */
const evil = (id: number) => JSON.stringify({ id, s: `${'a'.repeat(32)}b`, n: 2 ** 32 - 1, list: Array.from({ length: 3000 }, (_, i) => i) });
const plain = (id: number) => JSON.stringify({ id, s: 'aaa', n: 3, list: [1, 2] });

function project(where: string, lines: string[], timeout?: string) {
  const dir = tempDir('sluice-hostile-');
  writeFiles(dir, { 'job.yaml': job(where, timeout), 'in.jsonl': `${lines.join('\n')}\n` });
  return dir;
}

async function report(dir: string): Promise<Counters> {
  const status = await sluice(['status', 'job.yaml', '--json'], { cwd: dir, ...T });
  return JSON.parse(status.stdout).checkpoint.counters;
}

describe.concurrent('record data cannot stall or kill a run', () => {
  it('runs a pattern that backtracks catastrophically in linear time', async () => {
    const dir = project('/(a+)+$/.test(record.s)', [evil(1), plain(2), evil(3)]);
    const run = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(run.code, run.stderr).toBe(0);
    expect(readJsonl(join(dir, 'out.jsonl')).map((r) => r.id)).toEqual([2]);
    expect(await report(dir)).toMatchObject({ read: 3, written: 1, filtered: 2, deadLettered: 0 });
  }, LONG);

  it.each<[string, string, string]>([
    ['an array as long as a record says', 'Array.from({ length: record.n }, (_, i) => i).length > 0', 'where: Array.from: 4294967295 elements is more than an expression may make (1000000)'],
    ['a string as long as a record says', 'record.s.padStart(record.n).length > 0', 'where: padStart: 4294967295 characters is more than an expression may make (10000000)'],
    ['loops as long as a record says', 'record.list.every(a => record.list.every(b => record.list.every(c => a + b + c >= 0)))', "where: the expression ran longer than its time limit (1s, the step's timeout)"],
  ])('fails the record that asks for %s, and the run goes on', async (_name, where, error) => {
    const dir = project(where, [plain(1), evil(2), plain(3)], '1s');
    const run = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(STACK_LINE);
    expect(readJsonl(join(dir, 'out.jsonl')).map((r) => r.id)).toEqual([1, 3]);
    const dead = readJsonl(join(dir, '.sluice/dead-letter/hostile.jsonl'));
    expect(dead).toMatchObject([{ step: 'filter', error, record: { id: 2 } }]);
    const counters = await report(dir);
    expect(counters).toMatchObject({ read: 3, written: 2, deadLettered: 1 });
    expect(balances(counters)).toBe(true);
  }, LONG);

  it('stops promptly on SIGTERM while records with hostile patterns flow', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => (i % 10 === 0 ? evil(i) : plain(i)));
    const dir = project('/(a+)+$/.test(record.s) || record.s.match("(a|aa)+$") != null', lines);
    const child = start(['run', 'job.yaml', '--progress', 'json'], { cwd: dir });
    // Before linear-time patterns, the first hostile record alone held the process for minutes.
    // Generous for a loaded machine; the old engine needed minutes for each hostile record.
    const deadline = Date.now() + 60_000;
    while (!child.output.stdout.includes('"type":"checkpoint"') && child.exitCode === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!child.output.stdout.includes('"type":"checkpoint"')) child.kill('SIGKILL');
    expect(child.output.stdout).toContain('"type":"checkpoint"');
    child.kill('SIGTERM');
    const result = await finished(child, 60_000);
    expect([0, 130]).toContain(result.code);
    const counters = await report(dir);
    expect(balances(counters)).toBe(true);
    expect(readJsonl(join(dir, 'out.jsonl'))).toHaveLength(counters.written);
  }, 180_000);
});
