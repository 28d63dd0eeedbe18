import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

// Messages that say what does not happen (issue 14 item 8).

function project(): string {
  const dir = tempDir('sluice-messages-');
  writeFileSync(join(dir, 'in.jsonl'), Array.from({ length: 50 }, (_, id) => JSON.stringify({ id, n: id % 10 })).join('\n') + '\n');
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: messages
batch: { size: 10 }
source:
  use: file
  with: { path: in.jsonl }
steps:
  - use: map
    with: { set: { inverse: "record.n === 0 ? record.nothing.here : 1 / record.n" } }
    onError: deadLetter
sink:
  use: file
  with: { path: out/out.jsonl }
deadLetter:
  use: file
  with: { path: out/dead.jsonl }
`,
  );
  return dir;
}

describe('messages that say what does not happen', () => {
  it('--limit says it saves no checkpoint, and saves none', async () => {
    const dir = project();
    const result = await sluice(['run', join(dir, 'job.yaml'), '--limit', '15', '--progress', 'plain']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('stopping: --limit 15 reached; finishing batches in flight (no checkpoint is saved)');
    expect(result.stderr).not.toContain('then saving the checkpoint');
    expect(existsSync(join(dir, '.sluice/checkpoints/messages.json'))).toBe(false);
  });

  it('--dry-run counts its dead letters but names no dead-letter file, and writes none', async () => {
    const dir = project();
    const result = await sluice(['run', join(dir, 'job.yaml'), '--dry-run', '--progress', 'none']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('dead-lettered 5');
    expect(result.stdout).not.toContain('dead letters:');
    expect(result.stdout).not.toContain('dead.jsonl');
    expect(existsSync(join(dir, 'out/dead.jsonl'))).toBe(false);
  });
});
