// The file sink proves its own resume with crashTest: killed (SIGKILL) at fault points and
// resumed, each output holds exactly the records of an uninterrupted run, in order.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crashTest, formatCrashReport } from '@sluice/core/testing';
import { describe, expect, it } from 'vitest';

// The built package, as a job loads it (`npx tsc -b` first, as for the CLI tests).
const module = new URL('../dist/index.js', import.meta.url);
const records = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, name: `user-${i + 1}`, tags: i % 3 ? ['a'] : [], score: i / 4 }));

describe('file sink under crashTest', () => {
  it.each([
    // test/crash-test-cli.test.ts runs every point through `sluice crash-test`; here, a few per format.
    ['JSON Lines', 'out/users.jsonl', ['pipelined', 'written', 'after-checkpoint'] as const],
    ['gzip CSV', 'out/users.csv.gz', ['mid-write', 'before-checkpoint'] as const],
  ])('%s: exactly once and in order where it was killed, each point reached', async (_, path, points) => {
    const report = await crashTest({ module, sink: { name: 'file', config: { path } }, records, points: [...points] });
    expect(report.passed, formatCrashReport(report)).toBe(true);
    expect(report.records).toBe(50);
    for (const s of report.scenarios) {
      expect(s.crashes.map((c) => c.point), s.point).toEqual([s.point]);
      expect(s.sinks).toEqual([expect.objectContaining({ guarantee: 'exactly-once', ordered: true, verdict: 'passed', held: 50, duplicated: 0, outOfOrder: 0 })]);
    }
  });
});

describe('file source under crashTest', () => {
  it('reads after a resume exactly what it reads uninterrupted', async () => {
    const input = join(mkdtempSync(join(tmpdir(), 'sluice-file-crash-')), 'in.jsonl');
    writeFileSync(input, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const report = await crashTest({ module, source: { name: 'file', config: { path: input } }, batchSize: 5, points: ['written', 'after-checkpoint'] });
    expect(report.passed, formatCrashReport(report)).toBe(true);
    expect(report.records).toBe(50);
    for (const s of report.scenarios) {
      expect(s.crashes.map((c) => c.point), s.point).toEqual([s.point]);
      expect(s.source).toMatchObject({ verdict: 'passed', lost: 0, duplicated: 0, held: 50 });
      expect(s.sinks).toEqual([]);
    }
  });
});
