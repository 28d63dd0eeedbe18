// Dead letters say where their record came from: the line (or, for a byte range of a split file,
// the byte offset) of the record's own line, also after a crash and a resume. The file source hands
// the engine a line or offset per record and the position is made only when a record fails, after
// filters dropped records and pages were merged into batches; this checks what it makes against
// positions worked out here from the input's bytes, in runs killed mid-way and resumed.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

/**
 * The input: JSON Lines with blank lines, CRLF endings, lines that do not parse, and multi-byte
 * text (so byte offsets and character offsets differ), `lines` lines. Returns the line number and the byte offset
 * of the start of each record's line, by id, and of each bad line.
 */
function writeInput(path: string, lines: number): { lineOf: Map<number, number>; offsetOf: Map<number, number>; bad: Array<{ line: number; offset: number }> } {
  const lineOf = new Map<number, number>();
  const offsetOf = new Map<number, number>();
  const bad: Array<{ line: number; offset: number }> = [];
  const parts: Buffer[] = [];
  let offset = 0;
  let id = 0;
  for (let line = 1; line <= lines; line++) {
    let text: string;
    if (line % 29 === 0) text = '';
    else if (line % 31 === 0) {
      text = '{"id": broken';
      bad.push({ line, offset });
    } else {
      text = JSON.stringify({ id, name: id % 4 === 0 ? `Zoë ${'日本'.repeat(id % 5)}` : `n${id}` });
      lineOf.set(id, line);
      offsetOf.set(id, offset);
      id++;
    }
    const bytes = Buffer.from(text + (line % 5 === 0 ? '\r\n' : '\n'));
    parts.push(bytes);
    offset += bytes.length;
  }
  writeFileSync(path, Buffer.concat(parts));
  return { lineOf, offsetOf, bad };
}

/** A filter drops records before the step that fails some (positions of the records left), and the sink's `when:` fails others. */
const job = (name: string) => `version: 1
name: ${name}
batch: { size: 7, inFlight: 3 }
source:
  use: file
  with: { path: in.jsonl }
  onError: deadLetter
steps:
  - id: keep
    use: filter
    with: { where: record.id % 3 !== 1 }
  - id: fail
    use: map
    with:
      set: { y: "record.id % 5 === 0 ? record.missing.x : 1" }
    onError: deadLetter
sink:
  use: file
  with: { path: out/out.jsonl }
  when: "record.id % 7 === 0 ? record.missing.x : true"
  onError: deadLetter
deadLetter:
  use: file
  with: { path: out/dead.jsonl }
`;

interface Dead {
  step: string;
  position: Record<string, unknown>;
  record?: { id: number };
  raw?: string;
}

const deadLetters = (dir: string): Dead[] =>
  readFileSync(join(dir, 'out/dead.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Dead);

/** Arms the engine's crash hook for one run: SIGKILL at the first checkpoint saved for batch `seq` or later. */
function crashAt(dir: string, seq: number): NodeJS.ProcessEnv {
  const token = randomBytes(16).toString('hex');
  const spec = join(dir, 'faults.json');
  writeFileSync(spec, JSON.stringify({ token, run: 0, journal: join(dir, 'journal'), pace: 1, crash: { point: 'after-checkpoint', seq, afterCheckpoint: true } }));
  return { SLUICE_FAULTS: `${token}:${spec}` };
}

/** What the dead letters must be: each failed record at its own line (or offset), each bad line too. */
function expected(input: ReturnType<typeof writeInput>, key: 'line' | 'offset'): string[] {
  const where = key === 'line' ? input.lineOf : input.offsetOf;
  const out: string[] = [];
  for (const [id] of input.lineOf) {
    if (id % 3 === 1) continue;
    const at = `${key} ${where.get(id)}`;
    if (id % 5 === 0) out.push(`fail ${id} ${at}`);
    else if (id % 7 === 0) out.push(`sink ${id} ${at}`);
  }
  for (const b of input.bad) out.push(`source - ${key} ${key === 'line' ? b.line : b.offset}`);
  return out.sort();
}

function seen(dead: Dead[], key: 'line' | 'offset'): string[] {
  for (const d of dead) expect(d.position.file).toBe('in.jsonl');
  return dead.map((d) => `${d.step} ${d.record ? d.record.id : '-'} ${key} ${d.position[key]}`).sort();
}

describe('dead letters carry the line (or byte offset) of their record, also after a resume', () => {
  it('one thread: line numbers, run killed after a checkpoint and resumed', async () => {
    const dir = tempDir('sluice-dl-positions-');
    const input = writeInput(join(dir, 'in.jsonl'), 600);
    writeFileSync(join(dir, 'job.yaml'), job('dlpos'));
    const killed = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, env: crashAt(dir, 20) });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(existsSync(join(dir, '.sluice/checkpoints/dlpos.json'))).toBe(true);
    const resumed = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/resum/i);
    expect(seen(deadLetters(dir), 'line')).toEqual(expected(input, 'line'));
  });

  it('two threads, a byte range each: byte offsets, run killed after a checkpoint and resumed', async () => {
    const dir = tempDir('sluice-dl-offsets-');
    // Big enough for two byte ranges (a range is at least 64 KiB).
    const input = writeInput(join(dir, 'in.jsonl'), 8000);
    writeFileSync(join(dir, 'job.yaml'), job('dloff'));
    const killed = await sluice(['run', 'job.yaml', '--progress', 'none', '--threads', '2'], { cwd: dir, env: crashAt(dir, 10) });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const resumed = await sluice(['run', 'job.yaml', '--progress', 'none', '--threads', '2'], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(seen(deadLetters(dir), 'offset')).toEqual(expected(input, 'offset'));
  });
});
