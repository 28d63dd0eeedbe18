import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

// The engine's crash-test hook, driven by hand the way the harness drives it: a spec file with a
// random token, named by SLUICE_FAULTS. Each point kills the run with SIGKILL exactly there.

const job = `version: 1
name: hook
batch: { size: 5, inFlight: 4 }
source: { use: file, with: { path: in.jsonl } }
steps:
  - id: check
    use: validate
    with: { schema: { properties: { id: { not: { multipleOf: 7 } } } } }
    onError: deadLetter
sinks:
  - id: a
    use: file
    with: { path: out/a.jsonl }
  - id: b
    use: file
    with: { path: out/b.jsonl }
`;

let dir: string;

beforeAll(() => {
  dir = tempDir('sluice-crash-hook-');
  writeFileSync(join(dir, 'in.jsonl'), Array.from({ length: 40 }, (_, i) => `${JSON.stringify({ id: i + 1 })}\n`).join(''));
  writeFileSync(join(dir, 'job.yaml'), job);
});

/** Runs the job with a spec armed by a fresh token; the journal lines it left. */
async function runArmed(name: string, spec: Record<string, unknown>, env: (token: string, file: string) => string = (t, f) => `${t}:${f}`, file = 'job.yaml') {
  const token = randomBytes(16).toString('hex');
  const journal = join(dir, `journal-${name}`);
  const specFile = join(dir, `spec-${name}.json`);
  writeFileSync(specFile, JSON.stringify({ token, run: 0, journal, ...spec }));
  const result = await sluice(['run', file, '--fresh', '--progress', 'none'], { cwd: dir, env: { SLUICE_FAULTS: env(token, specFile) } });
  let lines: Array<Record<string, unknown>> = [];
  try {
    lines = readdirSync(journal).flatMap((f) => readFileSync(join(journal, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
  } catch {
    // no journal: the hook was not armed
  }
  return { result, lines };
}

describe('the crash-test hook', () => {
  it.each([
    ['handed', { sink: 'a' }],
    ['pipelined', {}],
    ['mid-write', {}],
    ['written', { sink: 'b' }],
    ['between-sinks', {}],
    ['before-checkpoint', {}],
    ['after-checkpoint', {}],
    ['dead-letter', {}],
  ])('kills the run with SIGKILL at %s, at or after the batch asked for', async (point, extra) => {
    const { result, lines } = await runArmed(point, { crash: { point, seq: 2, ...extra } });
    expect(result.signal, result.stderr).toBe('SIGKILL');
    const crash = lines.at(-1)!;
    expect(crash).toMatchObject({ crash: point, ...extra });
    expect(crash.seq).toBeGreaterThanOrEqual(2);
  });

  it('with afterCheckpoint, waits for a checkpoint behind the crash: the run dies with one saved, at or after the batch asked for', async () => {
    // Paced (a batch every 50 ms) so that the run does not end before its first checkpoint is saved.
    writeFileSync(join(dir, 'paced.yaml'), job.replace('name: hook', 'name: paced').replace('out/b.jsonl }', 'out/b.jsonl }\n    rateLimit: 20/s'));
    const { result, lines } = await runArmed('after-save', { crash: { point: 'written', seq: 0, afterCheckpoint: true } }, undefined, 'paced.yaml');
    expect(result.signal, result.stderr).toBe('SIGKILL');
    expect(lines.at(-1)).toMatchObject({ crash: 'written' });
    // --fresh cleared the checkpoint at the start: this one was saved by the run that died.
    const saved = JSON.parse(readFileSync(join(dir, '.sluice/checkpoints/paced.json'), 'utf8')) as { seq: number };
    expect(lines.at(-1)!.seq as number).toBeGreaterThan(saved.seq);
  });

  it('journals what the source read and ends it once the records asked for are read (whole pages)', async () => {
    const { result, lines } = await runArmed('cap', { records: 12 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('read 15 = written 13 + filtered 0 + dead-lettered 2');
    expect(lines[0]).toEqual({ part: null, start: null });
    expect(lines.slice(1).map((l) => [l.seq, (l.records as Array<{ id: number }>).map((r) => r.id)])).toEqual([
      [0, [1, 2, 3, 4, 5]],
      [1, [6, 7, 8, 9, 10]],
      [2, [11, 12, 13, 14, 15]],
    ]);
  });

  it.each([
    ['a token that is not the spec file’s', (_: string, file: string) => `${'0'.repeat(32)}:${file}`],
    ['a spec file that is gone', (token: string) => `${token}:${join(dir, 'no-such-spec.json')}`],
    ['no token', (_: string, file: string) => file],
  ])('stays off, with a warning, for %s', async (name, env) => {
    const { result, lines } = await runArmed(`off-${name.length}`, { crash: { point: 'handed', seq: 0 } }, env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('sluice: SLUICE_FAULTS is set but names no crash-test run in progress; ignored');
    expect(result.stdout).toContain('read 40 = written 35 + filtered 0 + dead-lettered 5');
    expect(lines).toEqual([]);
  });
});
