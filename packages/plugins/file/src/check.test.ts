import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { StartupRefusal, type SourcePage } from '@sluice/core';
import { collectSource } from '@sluice/core/testing';
import { describe, expect, it } from 'vitest';
import { verifyCheck } from './check.js';
import { expandInputs } from './files.js';
import { fileSource } from './source.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'sluice-file-check-'));
const jsonl = (ids: number[]) => ids.map((id) => `{"id":${id}}\n`).join('');
const ids = (pages: SourcePage[]) => pages.flatMap((p) => p.records.map((r) => r.id));
const lastCursor = (pages: SourcePage[]) => JSON.parse(JSON.stringify(pages.at(-1)!.cursor));

describe('file source: a resume checks that the file is the one it checkpointed', () => {
  it('the cursor carries the file\'s size, first bytes\' hash, inode and mtime', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.jsonl'), jsonl([1, 2]));
    const cursor = lastCursor(await collectSource(fileSource, { path: 'in.jsonl' }, { dir }));
    expect(cursor.check).toEqual({ size: 18, headBytes: 18, head: expect.stringMatching(/^[0-9a-f]{32}$/), ino: expect.any(Number), mtimeMs: expect.any(Number) });
  });

  it.each(['in.jsonl', 'in.jsonl.gz'])('%s appended to: the resume reads only what was appended', async (name) => {
    const dir = tempDir();
    const path = join(dir, name);
    const gz = name.endsWith('.gz');
    writeFileSync(path, gz ? gzipSync(jsonl([1, 2])) : jsonl([1, 2]));
    const cursor = lastCursor(await collectSource(fileSource, { path: name }, { dir }));
    appendFileSync(path, gz ? gzipSync(jsonl([3, 4])) : jsonl([3, 4]));
    expect(ids(await collectSource(fileSource, { path: name }, { dir, cursor, state: cursor }))).toEqual([3, 4]);
  });

  it.each([
    ['replaced by a longer file with other first records', jsonl([10, 11, 12, 13]), /its first 18 bytes changed/],
    ['replaced by a shorter file', jsonl([9]), /shorter than its checkpoint position \(9 < 18 bytes\)/],
    ['rewritten in place, same size', jsonl([7, 8]), /its first 18 bytes changed/],
  ])('%s: refused with the file named and --fresh, at create (exit 2) and at read', async (_case, content, why) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.jsonl'), jsonl([1, 2]));
    const cursor = lastCursor(await collectSource(fileSource, { path: 'in.jsonl' }, { dir }));
    writeFileSync(join(dir, 'in.jsonl.new'), content);
    renameSync(join(dir, 'in.jsonl.new'), join(dir, 'in.jsonl'));
    const message = new RegExp(`^file: 'in.jsonl' is .*${why.source}.*run with --fresh`);
    const atCreate = collectSource(fileSource, { path: 'in.jsonl' }, { dir, state: cursor });
    await expect(atCreate).rejects.toThrow(message);
    await expect(atCreate).rejects.toBeInstanceOf(StartupRefusal);
    await expect(collectSource(fileSource, { path: 'in.jsonl' }, { dir, cursor })).rejects.toThrow(message);
  });

  it('a file put in place of another that starts the same and is not shorter reads as appended, with a hint', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'in.jsonl'), jsonl([1, 2]));
    const cursor = lastCursor(await collectSource(fileSource, { path: 'in.jsonl' }, { dir }));
    writeFileSync(join(dir, 'next'), jsonl([1, 2, 3]));
    renameSync(join(dir, 'next'), join(dir, 'in.jsonl'));
    const [file] = await expandInputs(['in.jsonl'], (p) => join(dir, p), dir);
    expect(await verifyCheck(file!, cursor.check)).toMatch(/^file: 'in.jsonl' is another file than at the checkpoint \(inode \d+ → \d+\) but starts with the same bytes/);
    expect(ids(await collectSource(fileSource, { path: 'in.jsonl' }, { dir, cursor, state: cursor }))).toEqual([3]);
  });

  it('in a glob and in byte ranges, the check is that of the file the cursor is in', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.jsonl'), jsonl([1, 2]));
    writeFileSync(join(dir, 'b.jsonl'), jsonl([3, 4, 5]));
    const pages = await collectSource(fileSource, { path: '*.jsonl' }, { dir, batchSize: 4 });
    const cursor = JSON.parse(JSON.stringify(pages[0]!.cursor));
    expect(cursor).toMatchObject({ file: 1, name: 'b.jsonl', check: { size: 27 } });
    writeFileSync(join(dir, 'a.jsonl'), jsonl([1, 2, 99]));
    expect(ids(await collectSource(fileSource, { path: '*.jsonl' }, { dir, cursor, state: cursor }))).toEqual([5]);
    writeFileSync(join(dir, 'b.jsonl'), jsonl([6, 4, 5]));
    await expect(collectSource(fileSource, { path: '*.jsonl' }, { dir, cursor, state: cursor })).rejects.toThrow(/'b.jsonl' is not the file the checkpoint was made from/);
  });
});
