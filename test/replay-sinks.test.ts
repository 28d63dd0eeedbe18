// Replay into a fan-out (issue 14 item 2, "exactly once into the sinks"): a record one sink refused
// goes back to that sink only; a record a transform refused goes through the job, to every sink.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { balances, readJsonl, writeFiles, type Counters } from './support/files.js';

const T = { timeoutMs: 120_000 };

/**
 * `check` refuses amounts over `max`; sink `all` refuses records without `tag` (its `when:` fails on
 * them), sink `big` those without `meta`. `fixed` repairs all three: only text amounts fail then.
 */
const job = (fixed: boolean) => `version: 1
name: fan
batch: { size: 25 }
source:
  use: file
  with: { path: in.jsonl }
steps:
  - id: bump
    use: map
    with: { set: { seen: "(record.seen ?? 0) + 1" } }
  - id: check
    use: validate
    onError: deadLetter
    with:
      schema: { type: object, properties: { amount: { type: number, maximum: ${fixed ? 10_000 : 100} } } }
  - id: double
    use: map
    with: { set: { twice: record.amount * 2 } }
sinks:
  - id: all
    use: file
    when: "${fixed ? 'record.tag?.ok' : 'record.tag.ok'} || true"
    onError: deadLetter
    with: { path: out/all.jsonl }
  - id: big
    use: file
    when: "${fixed ? 'record.meta?.big ?? record.amount > 50' : 'record.meta.big'}"
    onError: deadLetter
    with: { path: out/big.jsonl }
`;

/** Every 50th amount is text (fails for good), every 7th is over 100; every 3rd record has no tag, every 5th no meta. */
function input(count: number): string {
  const lines: string[] = [];
  for (let id = 1; id <= count; id++) {
    const amount = id % 50 === 0 ? 'n/a' : id % 7 === 0 ? 500 + id : id % 100;
    const record: Record<string, unknown> = { id, amount };
    if (id % 3 !== 0) record.tag = { ok: id % 2 === 0 };
    if (id % 5 !== 0) record.meta = { big: typeof amount === 'number' && amount > 50 };
    lines.push(JSON.stringify(record));
  }
  return `${lines.join('\n')}\n`;
}

const sortedLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).sort();

describe('sluice replay into several sinks', () => {
  it('sends a record a sink refused back to that sink only, and one a transform refused to every sink: both outputs hold each record once', async () => {
    const count = 120;
    const dir = tempDir('sluice-replay-sinks-');
    const reference = tempDir('sluice-replay-sinks-ref-');
    writeFiles(dir, { 'job.yaml': job(false), 'in.jsonl': input(count) });
    writeFiles(reference, { 'job.yaml': job(true), 'in.jsonl': input(count) });

    const first = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(first.code, first.stderr).toBe(0);
    const dead = readJsonl<{ step: string; counted?: boolean; record: { id: number } }>(join(dir, '.sluice/dead-letter/fan.jsonl'));
    // Refused by one sink, by the other, by both (an entry each, the record counted once), by the transform.
    const idsOf = (step: string) => dead.filter((d) => d.step === step).map((d) => d.record.id);
    expect(idsOf('all').some((id) => idsOf('big').includes(id))).toBe(true);
    expect(idsOf('big').some((id) => !idsOf('all').includes(id))).toBe(true);
    expect(idsOf('check').length).toBeGreaterThan(0);
    expect(dead.filter((d) => d.counted === false).length).toBe(idsOf('all').filter((id) => idsOf('big').includes(id)).length);

    writeFileSync(join(dir, 'job.yaml'), job(true));
    const replay = await sluice(['replay', 'job.yaml'], { cwd: dir, ...T });
    expect(replay.code, replay.stderr).toBe(0);

    // What a run of the fixed job writes from scratch, record for record (replayed ones come last).
    const clean = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: reference, ...T });
    expect(clean.code, clean.stderr).toBe(0);
    for (const out of ['out/all.jsonl', 'out/big.jsonl']) {
      expect(sortedLines(join(dir, out)), out).toEqual(sortedLines(join(reference, out)));
    }
    const records = new Set(dead.map((d) => d.record.id)).size;
    expect(replay.stdout).toContain(`replayed ${records}: ${records - 2} went through, 2 failed again; 2 entries left`);
    expect(readJsonl<{ step: string; record: { id: number } }>(join(dir, '.sluice/dead-letter/fan.jsonl')).map((d) => [d.step, d.record.id])).toEqual([
      ['check', 50],
      ['check', 100],
    ]);
    const counters = JSON.parse(readFileSync(join(dir, '.sluice/checkpoints/fan.json'), 'utf8')).counters as Counters;
    expect(counters).toMatchObject({ read: count, written: count - 2, deadLettered: 2, skipped: 0, filtered: 0 });
    expect(balances(counters)).toBe(true);
  });
});
