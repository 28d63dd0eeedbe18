import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { balances, linkCore, readJsonl, STACK_LINE, writeFiles, type Counters } from './support/files.js';

const T = { timeoutMs: 30_000 };

/** Refuses the records whose id is in fail-ids.json, read again at every call. */
const FLAKY = `import { readFileSync } from 'node:fs';
import { defineTransform } from '@sluice/core';

export default defineTransform({
  name: 'flaky',
  description: 'fails the records whose id is listed in fail-ids.json',
  schema: { type: 'object', additionalProperties: false },
  create(_config, ctx) {
    const file = ctx.resolvePath('fail-ids.json');
    return {
      process(record) {
        const ids = JSON.parse(readFileSync(file, 'utf8'));
        if (ids.includes(record.id)) throw new Error('flaky: record ' + record.id + ' refused');
        return { ...record, seen: true };
      },
    };
  },
});
`;

const JOB = `version: 1
name: replayed
batch: { size: 5 }
source:
  use: file
  with: { path: in.jsonl }
  onError: deadLetter
steps:
  - id: bump
    use: map
    with: { set: { v: record.v + 100 } }
  - id: flaky
    use: ./flaky.mjs
    onError: deadLetter
    retry: { attempts: 1 }
  - id: double
    use: map
    with: { set: { doubled: record.v * 2 } }
sink:
  use: file
  with: { path: out/result.jsonl }
`;

const RECORDS = 20;
/** 20 records, then a line that never becomes a record (it stays in the dead-letter file). */
const INPUT = `${Array.from({ length: RECORDS }, (_, i) => JSON.stringify({ id: i + 1, v: i + 1 })).join('\n')}\nnot json\n`;
const FAILING = [3, 7, 12, 18];
/** Through every step once: a replayed record starts at \`flaky\`, so it is bumped only once. */
const expected = (id: number) => ({ id, v: id + 100, seen: true, doubled: 2 * (id + 100) });

function project(): { dir: string; file: string; deadLetters: () => Array<Record<string, unknown>>; output: () => Array<Record<string, unknown>> } {
  const dir = tempDir('sluice-replay-');
  writeFiles(dir, { 'job.yaml': JOB, 'flaky.mjs': FLAKY, 'in.jsonl': INPUT, 'fail-ids.json': JSON.stringify(FAILING) });
  linkCore(dir);
  return {
    dir,
    file: join(dir, 'job.yaml'),
    deadLetters: () => readJsonl(join(dir, '.sluice/dead-letter/replayed.jsonl')),
    output: () => readJsonl(join(dir, 'out/result.jsonl')),
  };
}

async function counters(file: string, dir: string): Promise<Counters> {
  const status = await sluice(['status', file, '--json'], { cwd: dir, ...T });
  expect(status.code, status.stderr).toBe(0);
  const parsed = JSON.parse(status.stdout);
  expect(parsed.matches).toBe(true);
  return parsed.checkpoint.counters;
}

/** The first run: the listed records are dead-lettered at step `flaky`, the bad line at the source. */
async function firstRun(p: ReturnType<typeof project>) {
  const result = await sluice(['run', p.file, '--progress', 'none'], { cwd: p.dir, ...T });
  expect(result.code, result.stderr).toBe(0);
  const dead = p.deadLetters();
  expect(dead.filter((d) => d.step === 'flaky').map((d) => (d.record as { id: number }).id)).toEqual(FAILING);
  expect(dead.filter((d) => d.step === 'source')).toMatchObject([{ position: { file: 'in.jsonl', line: RECORDS + 1 }, raw: 'not json' }]);
  expect(p.output().map((r) => r.id)).toEqual(Array.from({ length: RECORDS }, (_, i) => i + 1).filter((id) => !FAILING.includes(id)));
  expect(await counters(p.file, p.dir)).toMatchObject({ read: RECORDS + 1, written: RECORDS - FAILING.length, deadLettered: FAILING.length + 1 });
}

describe.concurrent('sluice replay', () => {
  it('sends the dead-lettered records back from their step once it accepts them: appended to the output, gone from the dead letters', async () => {
    const p = project();
    await firstRun(p);
    const before = readFileSync(join(p.dir, 'out/result.jsonl'));

    writeFileSync(join(p.dir, 'fail-ids.json'), '[]');
    const replay = await sluice(['replay', p.file], { cwd: p.dir, ...T });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).not.toMatch(STACK_LINE);

    // Appended after what was there, each record through `flaky` and the steps after it.
    const after = readFileSync(join(p.dir, 'out/result.jsonl'));
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    expect(p.output().slice(RECORDS - FAILING.length)).toEqual(FAILING.map(expected));
    expect(p.output()).toHaveLength(RECORDS);

    // Only the line that never was a record is left.
    expect(p.deadLetters()).toMatchObject([{ step: 'source', raw: 'not json' }]);

    const c = await counters(p.file, p.dir);
    expect(c).toMatchObject({ read: RECORDS + 1, written: RECORDS, deadLettered: 1, skipped: 0 });
    expect(balances(c)).toBe(true);

    // Nothing left to replay, and the checkpoint knows the output grew: a rerun keeps it as it is.
    const [again, rerun] = [await sluice(['replay', p.file], { cwd: p.dir, ...T }), await sluice(['run', p.file, '--progress', 'none'], { cwd: p.dir, ...T })];
    expect(again.code, again.stderr).toBe(0);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain('this run: 0 records');
    expect(readFileSync(join(p.dir, 'out/result.jsonl')).equals(after)).toBe(true);
  }, 180_000);

  it('keeps exactly the records that fail again', async () => {
    const p = project();
    await firstRun(p);

    const still = [7, 18];
    writeFileSync(join(p.dir, 'fail-ids.json'), JSON.stringify(still));
    const replay = await sluice(['replay', p.file], { cwd: p.dir, ...T });
    expect(replay.code, replay.stderr).toBe(0);

    const dead = p.deadLetters();
    expect(dead.filter((d) => d.step === 'flaky').map((d) => d.record)).toEqual(still.map((id) => ({ id, v: id + 100 })));
    expect(dead.filter((d) => d.step === 'source')).toHaveLength(1);
    expect(dead).toHaveLength(still.length + 1);

    const replayed = FAILING.filter((id) => !still.includes(id));
    expect(p.output().slice(RECORDS - FAILING.length)).toEqual(replayed.map(expected));

    const c = await counters(p.file, p.dir);
    expect(c).toMatchObject({ read: RECORDS + 1, written: RECORDS - still.length, deadLettered: still.length + 1, skipped: 0 });
    expect(balances(c)).toBe(true);
  }, 180_000);
});
