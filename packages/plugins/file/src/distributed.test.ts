import { withDefaults } from '@sluice/core';
// A distributed run's partitions through the real engine: file source split, file sink and
// dead-letter file per partition, one checkpoint per partition.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestContext } from '@sluice/core/testing';
import { formatDiagnostic, JobRun, loadJobText, PluginRegistry } from '@sluice/core/internal';
import { describe, expect, it } from 'vitest';
import plugins, { fileSource } from './index.js';

const job = `
version: 1
name: spread
source:
  use: file
  with: { path: in/*.jsonl }
  onError: deadLetter
sink:
  use: file
  with: { path: out/users.jsonl }
deadLetter:
  use: file
  with: { path: out/rejects.jsonl }
`;

describe('file plugin in a distributed run', () => {
  it('three partitions write every record once, each to its own output and dead-letter file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-file-dist-'));
    mkdirSync(join(dir, 'in'));
    const line = (id: number) => (id % 1000 === 999 ? `{"bad": ${id}\n` : JSON.stringify({ id, pad: 'w'.repeat(id % 97) }) + '\n');
    writeFileSync(join(dir, 'in/a.jsonl'), Array.from({ length: 9000 }, (_, i) => line(i)).join(''));
    writeFileSync(join(dir, 'in/b.jsonl'), Array.from({ length: 1000 }, (_, i) => line(9000 + i)).join(''));

    const registry = new PluginRegistry();
    expect(registry.add(plugins, 'test')).toEqual([]);
    const { plan, diagnostics } = await loadJobText(job, { registry, dir, env: {} });
    if (!plan) throw new Error(diagnostics.map((d) => formatDiagnostic(d)).join('\n'));

    // The coordinator's part: split the source, then close it.
    const ctx = createTestContext({ dir, kind: 'source' });
    const source = await fileSource.create(withDefaults(fileSource.schema, { path: 'in/*.jsonl' }), ctx);
    const specs = JSON.parse(JSON.stringify(await source.partitions!(3))) as unknown[];
    await source.close?.();
    expect(specs).toHaveLength(3);

    for (const [index, spec] of specs.entries()) {
      const summary = await new JobRun(plan, { partition: { index, count: specs.length, spec } }).run();
      expect(summary.status, `partition ${index}`).toBe('done');
    }
    const out = readdirSync(join(dir, 'out')).sort();
    expect(out).toEqual(['rejects.p0.jsonl', 'rejects.p1.jsonl', 'rejects.p2.jsonl', 'users.p0.jsonl', 'users.p1.jsonl', 'users.p2.jsonl']);
    const lines = (name: string) => readFileSync(join(dir, 'out', name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const written = [0, 1, 2].flatMap((i) => lines(`users.p${i}.jsonl`).map((r) => r.id as number));
    expect(written).toEqual(Array.from({ length: 10_000 }, (_, i) => i).filter((i) => i % 1000 !== 999));
    const rejected = [0, 1, 2].flatMap((i) => lines(`rejects.p${i}.jsonl`));
    expect(rejected).toHaveLength(10);
    // A byte range of in/a.jsonl reports offsets; the partition reading in/b.jsonl whole reports lines.
    expect(JSON.stringify(rejected)).toContain('"offset":');
    expect(JSON.stringify(rejected)).toContain('"line":1000');
    // One checkpoint per partition.
    expect(readdirSync(join(dir, '.sluice/checkpoints')).filter((f) => f.endsWith('.json')).sort()).toEqual(['spread.p0.json', 'spread.p1.json', 'spread.p2.json']);
    expect(existsSync(join(dir, 'out/users.jsonl'))).toBe(false);
  });
});
