import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

// Every dead letter counted is in the dead-letter file (issue 13 item 1), through the CLI.

const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

const checkpoint = (dir: string, job: string) => JSON.parse(readFileSync(join(dir, `.sluice/checkpoints/${job}.json`), 'utf8'));

describe('dead letters the dead-letter file cannot hold as they are', () => {
  it('a JSON Lines record nested 5,000 deep, refused by the file sink: in the dead-letter file in a safe form, counted once, checkpoint agrees', async () => {
    const dir = tempDir('sluice-dl-deep-');
    const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`;
    writeFileSync(join(dir, 'in.jsonl'), `{"id":0}\n{"id":1,"x":${deep}}\n{"id":2}\n`);
    writeFileSync(
      join(dir, 'job.yaml'),
      `version: 1
name: deep
source:
  use: file
  with: { path: in.jsonl }
sink:
  use: file
  with: { path: out/out.jsonl }
  onError: deadLetter
deadLetter:
  use: file
  with: { path: out/dead.jsonl }
`,
    );
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('dead-lettered 1');
    expect(lines(join(dir, 'out/out.jsonl')).map((l) => JSON.parse(l).id)).toEqual([0, 2]);
    const dead = lines(join(dir, 'out/dead.jsonl')).map((l) => JSON.parse(l));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ step: 'sink', position: { line: 2 }, record: { id: 1 } });
    expect(dead[0].note).toMatch(/nesting cut at 64 levels/);
    const saved = checkpoint(dir, 'deep');
    expect(saved.deadLetter.records).toBe(1);
    expect(saved.counters.deadLettered).toBe(1);
  });

  it('a record a map gave a BigInt (set: { x: "10n" }), refused by a sink: in the dead-letter file with its digits', async () => {
    const dir = tempDir('sluice-dl-bigint-');
    writeFileSync(join(dir, 'in.jsonl'), '{"id":1}\n{"id":2}\n');
    writeFileSync(
      join(dir, 'picky.mjs'),
      `export default { kind: 'sink', apiVersion: 1, name: 'picky', description: 'refuses id 2', schema: { type: 'object' },
  create() { return { async write(records) { return { rejected: records.flatMap((r, index) => (r.id === 2 ? [{ index, error: new Error('no twos') }] : [])) }; } }; } };\n`,
    );
    writeFileSync(
      join(dir, 'job.yaml'),
      `version: 1
name: bigint
source:
  use: file
  with: { path: in.jsonl }
steps:
  - use: map
    with:
      set: { x: "10n" }
sink:
  use: ./picky.mjs
  onError: deadLetter
deadLetter:
  use: file
  with: { path: out/dead.jsonl }
`,
    );
    const result = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'none']);
    expect(result.code, result.stderr).toBe(0);
    const dead = lines(join(dir, 'out/dead.jsonl'));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toContain('"record":{"id":2,"x":10}');
    const saved = checkpoint(dir, 'bigint');
    expect(saved.deadLetter.records).toBe(1);
    expect(saved.counters.deadLettered).toBe(1);
  });
});
