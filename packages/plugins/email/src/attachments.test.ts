// Records choose attachments, so attachmentsDir is a fence: real files on disk, real links.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestContext, RecordError } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { MessageBuilder } from './message.js';
import { normaliseEmailConfig } from './options.js';

/** A job folder with att/ (a file, links in and out of it) and a secret file beside att/. */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-attach-'));
  mkdirSync(join(dir, 'att/sub'), { recursive: true });
  writeFileSync(join(dir, 'att/invoice.txt'), 'invoice');
  writeFileSync(join(dir, 'secret.txt'), 'not for mailing');
  symlinkSync(join(dir, 'secret.txt'), join(dir, 'att/link.txt'));
  symlinkSync('/etc/passwd', join(dir, 'att/passwd.txt'));
  symlinkSync(dir, join(dir, 'att/up'));
  symlinkSync(join(dir, 'att/invoice.txt'), join(dir, 'att/sub/same.txt'));
  return dir;
}

async function builder(dir: string): Promise<MessageBuilder> {
  const ctx = createTestContext({ dir, kind: 'sink' });
  const options = normaliseEmailConfig({ transport: { type: 'file', dir: 'out' }, from: 'a@x.test', to: 'b@x.test', subject: 's', text: 't', attachments: 'record.file', attachmentsDir: 'att' });
  return MessageBuilder.create(ctx, options);
}

describe('attachments stay inside attachmentsDir', () => {
  it.each([
    ['a link to a file beside the folder', 'link.txt'],
    ['a link to /etc/passwd', 'passwd.txt'],
    ['a path through a linked folder', 'up/secret.txt'],
    ['a path that climbs out', '../secret.txt'],
  ])('%s fails the record', async (_name, file) => {
    const dir = fixture();
    const build = (await builder(dir)).build('k', { file });
    await expect(build).rejects.toThrowError(RecordError);
    await expect(build).rejects.toThrowError(new RegExp(`attachment "${file.replace(/[.]/g, '\\.')}" is outside attachmentsDir \\(att\\)`));
  });

  it('a link that stays inside is attached under its own name', async () => {
    const dir = fixture();
    const { mail } = await (await builder(dir)).build('k', { file: ['invoice.txt', 'sub/same.txt'] });
    expect(mail.attachments).toEqual([
      { path: join(dir, 'att/invoice.txt'), filename: 'invoice.txt' },
      { path: join(dir, 'att/invoice.txt'), filename: 'same.txt' },
    ]);
  });
});
