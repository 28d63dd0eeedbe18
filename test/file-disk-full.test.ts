import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

// A real full disk: a 64 KiB tmpfs (the tests run as root here and in CI). Where mounting is
// refused, /dev/full stands in: every write to it fails with ENOSPC.
const root = tempDir('sluice-disk-full-');
const mountPoint = join(root, 'full');
let target = '/dev/full';
let mounted = false;

beforeAll(() => {
  mkdirSync(mountPoint);
  mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'sluice-test-full', mountPoint]).status === 0;
  if (mounted) target = mountPoint;
});
afterAll(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
});

/** The output (`file: 'out.jsonl'`) or dead-letter file on the full disk. */
const where = (name: string) => (target === '/dev/full' ? '/dev/full' : join(target, name));

async function run(lines: string, onError: string, sink: string, deadLetter: string) {
  const dir = tempDir('sluice-disk-full-job-');
  writeFileSync(join(dir, 'in.jsonl'), lines);
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: disk-full
source:
  use: file
  with: { path: in.jsonl }
  onError: ${onError}
sink:
  use: file
  with: { path: ${sink} }
  retry: { attempts: 1 }
deadLetter:
  use: file
  with: { path: ${deadLetter} }
`,
  );
  return sluice(['run', join(dir, 'job.yaml'), '--progress', 'none'], { cwd: dir, timeoutMs: 60_000 });
}

describe('a full disk is named (issue 13 item 19)', () => {
  it('the file sink: the error names the output file and says the device is full', async () => {
    const records = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: i, pad: 'x'.repeat(50) })).join('\n');
    const result = await run(records, 'fail', where('out.jsonl'), 'dead.jsonl');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`file: cannot write ${where('out.jsonl')}: no space left on the device (ENOSPC)`);
  });

  it('the dead-letter file: the error names it', async () => {
    const bad = Array.from({ length: 3000 }, (_, i) => `not json ${i} ${'x'.repeat(50)}`).join('\n');
    const result = await run(bad, 'deadLetter', 'out.jsonl', where('dead.jsonl'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`file: cannot write ${where('dead.jsonl')}: no space left on the device (ENOSPC)`);
  });
});
