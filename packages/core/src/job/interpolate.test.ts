import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FILE_CAP, interpolate } from './interpolate.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-interp-'));
writeFileSync(join(dir, 'token'), 's3cret-token\n');
writeFileSync(join(dir, 'big'), Buffer.alloc(FILE_CAP + 1, 0x61));
mkdirSync(join(dir, 'folder'));
execFileSync('mkfifo', [join(dir, 'fifo')]);

const read = (ref: string) => interpolate({ v: `\${file:${ref}}` }, { env: {}, dir });

describe('${file:} reads regular files up to a small cap', () => {
  it('reads a regular file, dropping one trailing newline, and treats it as a secret', () => {
    expect(read('./token')).toEqual({ value: { v: 's3cret-token' }, secrets: ['s3cret-token'], problems: [] });
  });

  it.each([
    ['/dev/zero', '/dev/zero is not a regular file'],
    ['./fifo', `${join(dir, 'fifo')} is not a regular file`],
    ['./folder', `${join(dir, 'folder')} is not a regular file`],
    ['./big', `${join(dir, 'big')} is larger than 1024 KiB (${FILE_CAP + 1} bytes)`],
    ['./missing', `no such file ${join(dir, 'missing')}`],
  ])('%s is refused at once with a clear problem', (ref, why) => {
    const started = Date.now();
    const { problems, secrets } = read(ref);
    expect(problems).toEqual([
      { pointer: '/v', kind: 'file', message: `cannot read \${file:${ref}}: ${why}`, hint: "${file:} reads a regular file of at most 1024 KiB (a secret, a token)" },
    ]);
    expect(secrets).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
