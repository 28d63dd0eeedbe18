// Raw CSV pages into a JSON Lines file (no records made: the file sink transcodes the bytes) must
// write what the record path writes: a corpus of tricky CSV files goes through `sluice run` twice,
// raw pages on and off (SLUICE_RAW_PAGES=0), with `cast: true` and without, and the outputs must be
// the same bytes, with the same dead letters and counts. Each run that should go raw is checked to
// have (the sink says so once), so the comparison is not two runs of the record path. Then
// `--threads 2` (parts joined in order), and SIGKILL + resume to the same bytes.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { finished, seeded, sluice, start, tempDir } from './support/cli.js';
import { checkpointPast, followEvents } from './support/events.js';

const RAW_SAID = /as JSON Lines made from their bytes/;

/** A field as CSV: quoted when it must be, or when asked; inner quotes doubled. */
const field = (value: string, quote = false) => (quote || /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/** Values in every form the cast takes or leaves as text, and text JSON.stringify escapes. */
const VALUES = [
  '1', '0', '-0', '01', '-01', '1.50', '.5', '5.', '1e5', '1E+5', '1e-7', '1e400', '1e-400', '4.9e-324', '0.0000001', '9007199254740991', '9007199254740993',
  '12345678901234567890', '123456789012345.6', '0x10', ' 1', '1 ', '+5', 'NaN', 'Infinity', '-', '2023-04-10T06:03:28.039Z', 'true', 'FALSE', 'tRuE', 'truex', 'f',
  '', 'a"b', 'back\\slash', 'tab\there', 'ctl\u0001\u001f\u007f', 'ção', '日本', '😀 astral', '\ufeffbom', '\u2028', 'a,b',
];

const plain = (from: number, count: number) => Array.from({ length: count }, (_, i) => `${from + i},name ${from + i},${(from + i) * 7},${((from + i) / 8).toFixed(3)}`);

/** name → the file's bytes. Pages are 4 rows (batch.size 4) in the corpus runs: tricky rows land in pages of their own. */
function corpus(): Record<string, string | Buffer> {
  const values: string[] = [];
  for (const [i, v] of VALUES.entries()) values.push(`${i},${field(v)},${i},x`, `${i},${field(v, true)},"${i}",""`);
  return {
    values: `id,name,n,x\n${values.join('\n')}\n`,
    quotes_and_lines: `id,name,n,x\n${[...plain(1, 8), '9,"a, b",1,"say ""hi"""', '10,"multi\nline",2,x', '11,"""",3,', '12,"",,""', ...plain(13, 8), '21,a"b,1,1', '22,"ab"c,2,2', ...plain(23, 6)].join('\n')}\n`,
    bad_rows: `id,name,n,x\n${[...plain(1, 4), '5,too,few', '6,too,many,1,2', '7,ok,1,1', '8,ok,2,2', ...plain(9, 4), '', '', ...plain(13, 5)].join('\n')}`,
    crlf: `id,name,n,x\r\n${[...plain(1, 4), ...plain(5, 8)].join('\r\n')}\r\n`,
    bom_unicode: `\ufeffid,näme,n,😀\n${[...plain(1, 4), '5,ção,1,é', '6,😀 emoji,2,日本', ...plain(7, 8)].join('\n')}\n`,
    names: `b,10,a,2,__proto__,a\n${Array.from({ length: 16 }, (_, i) => `${i},x${i},${i * 2},"q,${i}",p${i},last${i}`).join('\n')}\n`,
    invalid_utf8: Buffer.concat([Buffer.from(`id,name,n,x\n${plain(1, 4).join('\n')}\n5,bad `), Buffer.from([0xc3, 0x28]), Buffer.from(`,1,1\n${plain(6, 7).join('\n')}\n`)]),
  };
}

let dir: string;

beforeAll(() => {
  dir = tempDir('sluice-raw-jsonl-');
  for (const [name, body] of Object.entries(corpus())) writeFileSync(join(dir, `${name}.csv`), body);
  // A bigger file in the default (growing) batches, for --threads and the crash test.
  const random = seeded(5);
  const big = ['id,name,amount,when,ok'];
  for (let i = 1; i <= 40_000; i++) {
    const name = i % 997 === 0 ? `"user ""${i}"", quoted"` : i % 7919 === 0 ? 'bad,row,extra,fields,here,too' : `user-${i}`;
    big.push(`${i},${name},${(random() * 10_000).toFixed(2)},2024-01-${String(1 + (i % 28)).padStart(2, '0')},${i % 3 === 0}`);
  }
  writeFileSync(join(dir, 'big.csv'), `${big.join('\n')}\n`);
  // The crash test's input: long enough that three kills land well before its end on a busy machine.
  const crash = [big[0]!];
  for (let copy = 0; copy < 4; copy++) for (let i = 1; i < big.length; i++) crash.push(big[i]!.replace(/^\d+/, String(copy * 40_000 + i)));
  writeFileSync(join(dir, 'crash.csv'), `${crash.join('\n')}\n`);
});

interface Outcome {
  output: Buffer;
  dead: unknown[];
  counters: Record<string, number>;
  raw: boolean;
}

/** Runs `file` into a JSON Lines file, raw pages on or off; the output's bytes, dead letters, counts. */
async function run(file: string, csv: string, raw: boolean, batch: string, args: string[] = [], output = 'out.jsonl'): Promise<Outcome> {
  const out = join(dir, `${file}-${csv.length}-${raw ? 'raw' : 'records'}-${batch.length}${args.length ? '-threads' : ''}-${output}`);
  if (!existsSync(out)) mkdirSync(out);
  const job = join(out, 'job.yaml');
  writeFileSync(
    job,
    `version: 1
name: raw-jsonl
${batch}
source:
  use: file
  with: { path: ../${file}.csv, format: csv, csv: ${csv} }
  onError: deadLetter
sink:
  use: file
  with: { path: ${output} }
deadLetter:
  use: file
  with: { path: dead.jsonl }
`,
  );
  const result = await sluice(['run', job, '--fresh', '--progress', 'json', ...args], { env: { ...process.env, SLUICE_RAW_PAGES: raw ? '1' : '0' }, timeoutMs: 120_000 });
  expect(result.code, result.stderr).toBe(0);
  const end = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; report?: { counters: Record<string, number> } })
    .find((e) => e.type === 'end');
  const deadFile = join(out, 'dead.jsonl');
  const dead = existsSync(deadFile)
    ? readFileSync(deadFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const { time: _time, at: _at, ...entry } = JSON.parse(l) as Record<string, unknown>;
          return entry;
        })
    : [];
  return { output: readFileSync(join(out, output)), dead, counters: end!.report!.counters, raw: RAW_SAID.test(result.stdout) };
}

/** Files none of whose pages can be raw (every page holds a `\r` or bad bytes … or the page is the last, short one). */
const neverRaw = new Set(['crlf']);

describe('raw CSV pages into a JSON Lines file write what the record path writes', () => {
  for (const csv of ['{ cast: false }', '{ cast: true }']) {
    it.each(Object.keys(corpus()))(`%s, csv: ${csv}, batches of 4: same bytes, dead letters and counts`, async (file) => {
      const records = await run(file, csv, false, 'batch: { size: 4 }');
      const raw = await run(file, csv, true, 'batch: { size: 4 }');
      expect(records.raw).toBe(false);
      expect(raw.raw, 'the raw run wrote raw pages').toBe(!neverRaw.has(file));
      expect(raw.output.toString('utf8')).toBe(records.output.toString('utf8'));
      expect(raw.output.equals(records.output)).toBe(true);
      expect(raw.dead).toEqual(records.dead);
      expect(raw.counters).toEqual(records.counters);
    }, 60_000);
  }

  it.each(['{ cast: true }', '{ cast: false }'])('a 40,000-row file, csv: %s, growing batches, --threads 2 (parts joined in order), gzip: same bytes', async (csv) => {
    const records = await run('big', csv, false, '');
    expect(records.dead.length).toBe(5);
    const raw = await run('big', csv, true, '');
    expect(raw.raw).toBe(true);
    expect(raw.output.equals(records.output)).toBe(true);
    expect(raw.dead).toEqual(records.dead);
    expect(raw.counters).toEqual(records.counters);
    const threads = await run('big', csv, true, '', ['--threads', '2']);
    expect(threads.output.equals(records.output)).toBe(true);
    expect(threads.counters).toMatchObject({ read: records.counters.read, written: records.counters.written });
    // gzip: each batch one member of the same bytes.
    const gzRecords = await run('big', csv, false, 'batch: { size: 700 }', [], 'out.jsonl.gz');
    const gzRaw = await run('big', csv, true, 'batch: { size: 700 }', [], 'out.jsonl.gz');
    expect(gzRaw.raw).toBe(true);
    expect(gunzipSync(gzRaw.output).equals(records.output)).toBe(true);
    expect(gzRaw.output.equals(gzRecords.output)).toBe(true);
  }, 120_000);

  it('SIGKILLed three times in the middle of a raw run, resumed each time: the output equals the record path byte for byte', async () => {
    const reference = await run('crash', '{ cast: true }', false, 'batch: { size: 500 }');
    const crashed = join(dir, 'crashed');
    mkdirSync(crashed, { recursive: true });
    const job = join(crashed, 'job.yaml');
    writeFileSync(
      job,
      `version: 1
name: raw-jsonl-crash
batch: { size: 500 }
source:
  use: file
  with: { path: ../crash.csv, csv: { cast: true } }
  onError: deadLetter
sink:
  use: file
  with: { path: out.jsonl }
deadLetter:
  use: file
  with: { path: dead.jsonl }
`,
    );
    const random = seeded(11);
    const kills: Array<{ read: number; ahead: number }> = [];
    let resumedAt = 0;
    let sawRaw = false;
    for (let runs = 0; kills.length < 3 && runs < 8; runs++) {
      const child = start(['run', job, '--progress', 'json'], { env: { ...process.env, SLUICE_RAW_PAGES: '1' } });
      const exited = finished(child, 120_000);
      // A checkpoint 2–7 batches on: the kill lands later than it (events arrive late on a busy
      // machine, 10,000 rows later or more), well before the end of 160,000 rows.
      const target = resumedAt + 500 * (2 + Math.floor(random() * 6));
      const reached = await followEvents(child).next(checkpointPast(target));
      if (reached) child.kill('SIGKILL');
      const result = await exited;
      sawRaw ||= RAW_SAID.test(result.stdout);
      expect(result.signal, `run ${runs} ended before its kill (${result.code}): ${result.stderr}`).toBe('SIGKILL');
      const saved = JSON.parse(readFileSync(join(crashed, '.sluice/checkpoints/raw-jsonl-crash.json'), 'utf8')) as { counters: { read: number }; sinks: Record<string, { size: number }> };
      const size = Object.values(saved.sinks).find((s) => typeof s.size === 'number')!.size;
      kills.push({ read: saved.counters.read, ahead: statSync(join(crashed, 'out.jsonl')).size - size });
      resumedAt = saved.counters.read;
    }
    console.log(`raw JSON Lines crash test: kills ${JSON.stringify(kills)}`);
    expect(kills.length, JSON.stringify(kills)).toBe(3);
    // The case truncation on resume is for: output past the checkpoint when killed.
    expect(kills.some((k) => k.ahead > 0), JSON.stringify(kills)).toBe(true);
    expect(sawRaw, 'the killed runs wrote raw pages').toBe(true);
    const last = await sluice(['run', job, '--progress', 'none'], { env: { ...process.env, SLUICE_RAW_PAGES: '1' }, timeoutMs: 120_000 });
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toContain('resumed from the checkpoint');
    const output = readFileSync(join(crashed, 'out.jsonl'));
    expect(output.length).toBe(reference.output.length);
    expect(output.equals(reference.output)).toBe(true);
    const status = await sluice(['status', job, '--json']);
    expect(JSON.parse(status.stdout).checkpoint).toMatchObject({ done: true, counters: { read: 160_000, written: 160_000 - 20, deadLettered: 20 } });
  }, 300_000);
});
