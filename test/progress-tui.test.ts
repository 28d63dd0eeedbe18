import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Ajv } from 'ajv';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, tempDir } from './support/cli.js';
import { hasTmux, TmuxSession } from './support/tmux.js';

/** Waits a little per record, so a 20,000-record job takes a few seconds; the first attempt at every 500th record fails. */
const slow = `import { defineTransform } from '@sluice/core';
export default defineTransform({
  name: 'slow',
  description: 'waits a little per record; the first attempt at every 500th record fails',
  schema: { type: 'object', properties: { ms: { type: 'number' } }, additionalProperties: false },
  create(config) {
    console.log('slow plugin ready');
    const failed = new Set();
    return {
      process: async (record) => {
        if (record.id % 500 === 7 && !failed.has(record.id)) {
          failed.add(record.id);
          throw new Error('upstream busy for record ' + record.id);
        }
        await new Promise((resolve) => setTimeout(resolve, Number(process.env.SLOW_MS ?? config.ms)));
        return record;
      },
    };
  },
});
`;

const job = (name: string, o: { ms: number; concurrency: number; batch: number }) => `version: 1
name: ${name}
batch: { size: ${o.batch}, inFlight: 4 }
source:
  use: file
  with: { path: input.jsonl }
steps:
  - id: enrich
    use: ./slow.mjs
    with: { ms: ${o.ms} }
    concurrency: ${o.concurrency}
    retry: { attempts: 3, initialDelay: 300ms }
  - id: keep
    use: filter
    with: { where: record.id % 10 != 0 }
  - id: check
    use: validate
    with:
      schema: { type: object, required: [email], properties: { email: { type: string, format: email } } }
    onError: deadLetter
sink:
  use: file
  with: { path: out/${name}.jsonl }
deadLetter:
  use: file
  with: { path: out/${name}.rejects.jsonl }
`;

const RECORDS = 20_000;
const STEPS = ['source (file)', 'enrich (./slow.mjs)', 'keep (filter)', 'check (validate)', 'sink (file)'];

let dir: string;
let tmux: TmuxSession | undefined;

beforeAll(() => {
  dir = tempDir('sluice-tui-');
  mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
  symlinkSync(join(ROOT, 'packages/core'), join(dir, 'node_modules/@sluice/core'));
  writeFileSync(join(dir, 'slow.mjs'), slow);
  writeFileSync(join(dir, 'quick.yaml'), job('quick', { ms: 1, concurrency: 8, batch: 200 }));
  writeFileSync(join(dir, 'long.yaml'), job('long', { ms: 5, concurrency: 4, batch: 200 }));
  writeFileSync(join(dir, 'drain.yaml'), job('drain', { ms: 20, concurrency: 1, batch: 50 }));
  writeFileSync(join(dir, 'resized.yaml'), job('resized', { ms: 2, concurrency: 4, batch: 200 }));
  writeFileSync(join(dir, 'limited.yaml'), job('limited', { ms: 1, concurrency: 8, batch: 200 }));
  let input = '';
  for (let id = 0; id < RECORDS; id++) input += `${JSON.stringify({ id, name: `user-${id}`, email: id % 1000 === 13 ? 'not-an-email' : `u${id}@example.com` })}\n`;
  writeFileSync(join(dir, 'input.jsonl'), input);
});

afterEach(() => {
  tmux?.kill();
  tmux = undefined;
});

/** Runs `sluice run FILE --progress tui …` in a fresh terminal; the exit code lands in `<name>.exit`. */
function runInTerminal(name: string, args: string[], columns: number, rows: number, env = ''): TmuxSession {
  tmux = new TmuxSession(dir, name);
  // An earlier run of the same job left its exit code: clear it, or exitCode() would answer at once.
  writeFileSync(join(dir, `${name}.exit`), '');
  const command = `${env}node ${BIN} run ${name}.yaml --progress tui ${args.join(' ')}; code=$?; echo $code > ${name}.exit; echo "[exit $code]"; sleep 300`;
  tmux.start(command, columns, rows, dir);
  return tmux;
}

async function exitCode(name: string, timeoutMs: number): Promise<number> {
  const file = join(dir, `${name}.exit`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(file) && readFileSync(file, 'utf8').trim()) return Number(readFileSync(file, 'utf8').trim());
    await sleep(100);
  }
  throw new Error(`sluice did not exit within ${timeoutMs}ms; the screen:\n${tmux?.screen()}`);
}

const lines = (screen: string) => screen.split('\n');
/** A step row of the screen (not of the summary, whose lines are indented), split into cells. */
const row = (screen: string, step: string) => lines(screen).find((l) => l.startsWith(`${step} `))?.trim().split(/\s{2,}/);

describe.skipIf(process.env.SLUICE_SKIP_TMUX === '1')('the progress screen in a real terminal (tmux)', () => {
  beforeAll(() => {
    if (!hasTmux()) throw new Error('tmux is not installed; the progress screen tests need it (apt-get install tmux), or set SLUICE_SKIP_TMUX=1 to skip them');
  });

  it('shows the job, the percent bar, a row per step and the checkpoint, then the final counts and the summary (80 columns)', async () => {
    const t = runInTerminal('quick', ['--report', 'quick.report.json'], 80, 50);
    const live = await t.waitFor((s) => s.includes('checkpoint batch') && /\d+\.\d% .*ETA/.test(s) && s.includes('enrich (./slow.mjs)'), 60_000, 'the running screen');
    expect(lines(live)[0]).toMatch(/^quick {2}file input\.jsonl +(running|stopping) +\d+:\d\d$/);
    expect(lines(live).find((l) => l.startsWith('step'))!.split(/\s+/)).toEqual(['step', 'in', 'out', 'filtered', 'failed', 'retrying', 'rate/s', 'p95']);
    for (const step of STEPS) expect(row(live, step), live).toHaveLength(8);
    expect(live).toContain('q or Ctrl-C: stop (drain, checkpoint, exit 130)');
    for (const line of lines(live)) expect(line.length).toBeLessThanOrEqual(80);

    expect(await exitCode('quick', 60_000)).toBe(0);
    const end = await t.waitFor((s) => s.includes('[exit 0]'), 10_000, 'the summary');
    // The last frame stays on the terminal with the final counts, the summary below it.
    expect(lines(end)[0]).toMatch(/^quick {2}file input\.jsonl +done +\d+:\d\d$/);
    expect(end).toMatch(/# +100\.0% +1\.\d MB \/ 1\.\d MB/);
    expect(row(end, 'source (file)')).toEqual(['source (file)', '-', '20,000', '-', '0', '-', expect.any(String), '-']);
    expect(row(end, 'keep (filter)')!.slice(0, 6)).toEqual(['keep (filter)', '20,000', '18,000', '2,000', '0', '0']);
    expect(row(end, 'check (validate)')!.slice(0, 6)).toEqual(['check (validate)', '18,000', '17,980', '0', '20', '0']);
    expect(end).toContain('dead letters 20 in out/quick.rejects.jsonl');
    expect(end).toMatch(/last errors\n.*\n.*\n.*\n/);
    expect(end).toContain('quick: done in');
    // What a plugin printed while the screen was up comes after the last frame, not through it.
    expect(lines(end).filter((l) => l === 'slow plugin ready')).toHaveLength(1);
    expect(end.indexOf('slow plugin ready')).toBeGreaterThan(end.indexOf('last errors'));
    expect(end.indexOf('slow plugin ready')).toBeLessThan(end.indexOf('quick: done in'));
    expect(end).toContain('  read 20,000 = written 17,980 + filtered 2,000');
    expect(end).toContain('+ dead-lettered 20 + skipped 0');
    expect(end).toMatch(/this run: 20,000 records in [\d.]+s \([\d,]+\/s\), 40 retries/);
    expect(end).toContain('  dead letters: out/quick.rejects.jsonl (20)');

    const report = JSON.parse(readFileSync(join(dir, 'quick.report.json'), 'utf8'));
    const schema = JSON.parse(readFileSync(join(ROOT, 'packages/cli/report.schema.json'), 'utf8'));
    const validate = new Ajv({ strict: true, validateFormats: false }).compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report).toMatchObject({ status: 'done', balanced: true, counters: { read: 20_000, written: 17_980, filtered: 2_000, deadLettered: 20, retries: 40 } });
  }, 180_000);

  it('q stops gracefully: drains, saves the checkpoint, exits 130; the screen keeps up with resizes meanwhile', async () => {
    const t = runInTerminal('long', [], 100, 40);
    await t.waitFor((s) => s.includes('checkpoint batch'), 60_000, 'a checkpoint');

    t.resize(60, 40);
    await sleep(600);
    const narrow = await t.waitFor((s) => lines(s).find((l) => l.startsWith('step'))?.endsWith('rate/s') === true, 5000, 'the narrow layout');
    expect(lines(narrow)[0]).toMatch(/^long {2}file input\.jsonl/);
    expect(lines(narrow).filter((l) => l.startsWith('step ')).length).toBe(1);
    for (const line of lines(narrow)) expect(line.length).toBeLessThanOrEqual(60);
    for (const step of STEPS) expect(lines(narrow).filter((l) => l.startsWith(`${step.split(' ')[0]} `)).length, narrow).toBe(1);
    t.resize(100, 40);
    const wide = await t.waitFor((s) => lines(s).find((l) => l.startsWith('step'))?.endsWith('p95') === true, 5000, 'the wide layout');
    expect(lines(wide).filter((l) => l.startsWith('step ')).length).toBe(1);

    t.keys('q');
    expect(await exitCode('long', 60_000)).toBe(130);
    const end = await t.waitFor((s) => s.includes('[exit 130]'), 10_000, 'the summary');
    expect(end).toMatch(/^long {2}file input\.jsonl +interrupted +\d+:\d\d$/m);
    expect(end).toContain('long: interrupted after');
    expect(end).toContain('error: stopped by q');
    const checkpoint = JSON.parse(readFileSync(join(dir, '.sluice/checkpoints/long.json'), 'utf8'));
    expect(checkpoint.done).toBe(false);
    expect(checkpoint.counters.read).toBeGreaterThan(0);
    expect(checkpoint.counters.read).toBeLessThan(RECORDS);
    expect(end).toContain(`checkpoint: batch ${checkpoint.seq} in .sluice/checkpoints/long.json`);
  }, 180_000);

  it('a resize from 80x24 to 100x30 mid-run leaves the last frame once on the terminal, above the summary', async () => {
    const t = runInTerminal('resized', ['--fresh'], 80, 24);
    await t.waitFor((s) => s.includes('checkpoint batch'), 60_000, 'a checkpoint');
    t.resize(100, 30);
    await t.waitFor((s) => lines(s).find((l) => l.startsWith('step'))?.endsWith('p95') === true, 10_000, 'the wide layout');
    expect(await exitCode('resized', 120_000)).toBe(0);
    await t.waitFor((s) => s.includes('[exit 0]'), 10_000, 'the summary');
    const all = t.history();
    // Each line of the frame once: the job line, the header of the table, the bar.
    expect(lines(all).filter((l) => /^resized {2}file input\.jsonl/.test(l)), all).toHaveLength(1);
    expect(lines(all).filter((l) => l.startsWith('step ')), all).toHaveLength(1);
    expect(lines(all).filter((l) => /\d+\.\d% /.test(l)), all).toHaveLength(1);
    expect(all.indexOf('resized: done in')).toBeGreaterThan(all.indexOf('sink (file)'));
  }, 180_000);

  it('a --limit run does not claim to have read the whole source', async () => {
    const t = runInTerminal('limited', ['--limit', '6000'], 100, 50);
    expect(await exitCode('limited', 120_000)).toBe(0);
    const end = await t.waitFor((s) => s.includes('[exit 0]'), 10_000, 'the summary');
    const bar = /(\d+\.\d)% +([\d.]+) ([KM]B) \/ ([\d.]+) ([KM]B)/.exec(end);
    expect(bar, end).not.toBeNull();
    expect(Number(bar![1])).toBeLessThan(100);
    expect(bar![2]! + bar![3]!).not.toBe(bar![4]! + bar![5]!);
    expect(end).toMatch(/read 6,000/);
  }, 180_000);

  it('Ctrl-C stops gracefully; a second Ctrl-C exits at once', async () => {
    let t = runInTerminal('drain', ['--fresh'], 100, 40);
    await t.waitFor((s) => s.includes('checkpoint batch'), 60_000, 'a checkpoint');
    t.keys('C-c');
    expect(await exitCode('drain', 60_000)).toBe(130);
    const graceful = await t.waitFor((s) => s.includes('[exit 130]'), 10_000, 'the summary');
    expect(graceful).toContain('error: interrupted by Ctrl-C');
    const saved = JSON.parse(readFileSync(join(dir, '.sluice/checkpoints/drain.json'), 'utf8'));
    t.kill();

    // Resumes from that checkpoint, now at 500 ms a record: a graceful stop would drain the batches
    // in flight (up to 4 × 50 records, and at least the rest of the current batch: tens of seconds,
    // since a timer never fires early), unless Ctrl-C comes twice.
    writeFileSync(join(dir, 'drain.exit'), '');
    t = runInTerminal('drain', [], 100, 40, 'SLOW_MS=500 ');
    await t.waitFor((s) => /enrich \(\.\/slow\.mjs\) +[\d,]+ +[\d,]+/.test(s) && s.includes('resumed'), 60_000, 'the resumed run');
    t.keys('C-c');
    await t.waitFor((s) => s.includes('stopping'), 30_000, 'stopping');
    t.keys('C-c');
    // Out before the current batch could have drained: no batch past the saved checkpoint finished.
    expect(await exitCode('drain', 20_000)).toBe(130);
    const quit = t.screen();
    expect(quit).toContain('sluice: Ctrl-C again: exiting now; the last saved checkpoint stands');
    // The checkpoint is the one saved before: the run quit without draining a batch.
    const after = JSON.parse(readFileSync(join(dir, '.sluice/checkpoints/drain.json'), 'utf8'));
    expect(after.seq).toBe(saved.seq);
  }, 180_000);
});
