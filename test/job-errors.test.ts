import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { STACK_LINE, writeFiles } from './support/files.js';

const T = { timeoutMs: 60_000 };
/** A loaded machine takes tens of seconds per CLI run. */
const LONG = 150_000;

const BASE = `version: 1
name: broken
source:
  use: file
  with: { path: in.jsonl }
sink:
  use: file
  with: { path: out.jsonl }
`;

/** Ten-fold nested aliases, eight levels: 10^9 values once expanded. */
const BOMB = Array.from({ length: 8 }, (_, i) =>
  i === 0 ? 'x0: &a0 [x, x, x, x, x, x, x, x, x, x]' : `x${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`,
).join('\n');

describe.concurrent('a job file the YAML parser cannot take is refused in one line, exit 2', () => {
  it.each<[string, string, RegExp]>([
    ['an alias bomb', BASE.replace('version: 1', `version: 1\n${BOMB}`), /^job\.yaml:\d+:\d+  invalid YAML: aliases expand to more than 10000 values/],
    ['an alias inside its own anchor', BASE.replace('version: 1', 'version: 1\nx: &a { y: *a }'), /^job\.yaml:2:12  invalid YAML: alias \*a is inside its own anchor &a/],
  ])('%s', async (_name, yaml, message) => {
    const dir = tempDir('sluice-yaml-');
    writeFiles(dir, { 'job.yaml': yaml, 'in.jsonl': '{"id":1}\n' });
    const run = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(run.code).toBe(2);
    expect(run.stderr + run.stdout).toMatch(message);
    expect(run.stderr + run.stdout).not.toMatch(STACK_LINE);
    expect(run.stderr + run.stdout).not.toContain('internal error');
  }, LONG);
});

describe.concurrent('validate refuses what run refuses', () => {
  it('an unknown connection: validate exits 1 and run exits 2, naming it the same way', async () => {
    const dir = tempDir('sluice-refs-');
    const yaml = BASE.replace('version: 1', 'version: 1\nconnections:\n  pg: { client: pg, url: "postgres://127.0.0.1:1/none" }').replace(
      'sink:\n  use: file\n  with: { path: out.jsonl }',
      'sink:\n  use: sql\n  with: { connection: warehouse, table: t }',
    );
    writeFiles(dir, { 'job.yaml': yaml, 'in.jsonl': '{"id":1}\n' });
    const validate = await sluice(['validate', 'job.yaml'], { cwd: dir, ...T });
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain("job.yaml:10:23  sink.with.connection: unknown connection 'warehouse'\n  hint: known connections: pg");
    const run = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(run.code).toBe(2);
    expect(run.stderr + run.stdout).toContain("unknown connection 'warehouse'");
  }, LONG);
});
