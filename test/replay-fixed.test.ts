import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { finished, sluice, start, tempDir } from './support/cli.js';
import { followEvents, type RunEventLine } from './support/events.js';
import { balances, readJsonl, STACK_LINE, writeFiles, type Counters } from './support/files.js';
import { openSqlite, rows } from '../packages/plugins/sql/test/services.js';

const T = { timeoutMs: 120_000 };
/** Several CLI runs each; a loaded machine takes tens of seconds per run. */
const LONG = 300_000;

/** `check` refuses amounts over `max`; the fix raises it. Text amounts fail either way. */
const job = (max: number, checkId = 'check', rate = '') => `version: 1
name: fixme
batch: { size: 50 }
source:
  use: file
  with: { path: in.jsonl }
steps:
  - id: bump
    use: map
    with: { set: { seen: "(record.seen ?? 0) + 1" } }
  - id: ${checkId}
    use: validate
    onError: deadLetter
    with:
      schema: { type: object, properties: { amount: { type: number, maximum: ${max} } } }
  - id: double
    use: map
    with: { set: { twice: record.amount * 2 } }${rate ? `\n    rateLimit: ${rate}` : ''}
sink:
  use: file
  with: { path: out.jsonl }
`;

/** Amount per id: most are small, every 7th is over 100 (fixed by the new maximum), every 50th is text. */
const amount = (id: number): number | string => (id % 50 === 0 ? 'n/a' : id % 7 === 0 ? 500 + id : id % 100);
const input = (count: number) => Array.from({ length: count }, (_, i) => JSON.stringify({ id: i + 1, amount: amount(i + 1) })).join('\n') + '\n';

function project(count: number) {
  const dir = tempDir('sluice-replay-fixed-');
  writeFiles(dir, { 'job.yaml': job(100), 'in.jsonl': input(count) });
  return {
    dir,
    output: () => readJsonl<{ id: number; seen: number; twice: number }>(join(dir, 'out.jsonl')),
    deadLetters: () => readJsonl<{ step: string; record: { id: number } }>(join(dir, '.sluice/dead-letter/fixme.jsonl')),
    counters: (): Counters => JSON.parse(readFileSync(join(dir, '.sluice/checkpoints/fixme.json'), 'utf8')).counters,
  };
}

/**
 * The moments a replay is killed at, each chosen from the replay's own `--progress json` events:
 * as it starts (it holds the lock and the checkpoint notes that it writes), midway (batches written
 * that nothing has committed), and as it commits (its checkpoint saved; the dead-letter file's swap
 * under way or done).
 */
const KILLS: Array<[string, (event: RunEventLine) => boolean]> = [
  ['started', (e) => e.type === 'start'],
  ['midway', (e) => e.type === 'progress' && (e.counters?.written ?? 0) >= 100],
  ['committed', (e) => e.type === 'checkpoint'],
];

/** Starts `sluice replay` and SIGKILLs it at the first event `match` accepts; fails if it ended first. */
async function killReplayAt(dir: string, match: (event: RunEventLine) => boolean): Promise<void> {
  const child = start(['replay', 'job.yaml', '--progress', 'json'], { cwd: dir });
  const exited = finished(child, T.timeoutMs);
  if (await followEvents(child).next(match)) child.kill('SIGKILL');
  const result = await exited;
  expect(result.signal, `the replay ended before its kill (${result.code}): ${result.stderr}`).toBe('SIGKILL');
}

const ids = (count: number, keep: (id: number) => boolean) => Array.from({ length: count }, (_, i) => i + 1).filter(keep);
const isText = (id: number) => typeof amount(id) === 'string';
const isBig = (id: number) => !isText(id) && (amount(id) as number) > 100;

/** After the fix and the replay: every number once, in the sink, through every step once. */
function expectExactlyOnce(p: ReturnType<typeof project>, count: number) {
  const out = p.output();
  const byId = new Map<number, number>();
  for (const r of out) byId.set(r.id, (byId.get(r.id) ?? 0) + 1);
  expect([...byId.values()].every((n) => n === 1), 'a record was written twice').toBe(true);
  expect([...byId.keys()].sort((a, b) => a - b)).toEqual(ids(count, (id) => !isText(id)));
  expect(out.every((r) => r.seen === 1 && r.twice === 2 * (amount(r.id) as number))).toBe(true);
  expect(p.deadLetters().map((d) => [d.step, d.record.id])).toEqual(ids(count, isText).map((id) => ['check', id]));
  const c = p.counters();
  expect(c).toMatchObject({ read: count, written: count - ids(count, isText).length, deadLettered: ids(count, isText).length });
  expect(balances(c)).toBe(true);
}

describe.concurrent('sluice replay after fixing the job', () => {
  it('runs the dead letters through the fixed step: written once, and only what fails again stays', async () => {
    const count = 100;
    const p = project(count);
    const first = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: p.dir, ...T });
    expect(first.code, first.stderr).toBe(0);
    expect(p.deadLetters().map((d) => d.record.id)).toEqual(ids(count, (id) => isText(id) || isBig(id)));

    writeFileSync(join(p.dir, 'job.yaml'), job(10_000));
    const replay = await sluice(['replay', 'job.yaml'], { cwd: p.dir, ...T });
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).not.toMatch(STACK_LINE);
    const big = ids(count, isBig).length;
    const text = ids(count, isText).length;
    expect(replay.stdout).toContain(`replayed ${big + text}: ${big} went through, ${text} failed again; ${text} entries left in .sluice/dead-letter/fixme.jsonl`);
    expectExactlyOnce(p, count);

    // Nothing more to replay; the output stays as it is.
    const before = readFileSync(join(p.dir, 'out.jsonl'));
    const again = await sluice(['replay', 'job.yaml'], { cwd: p.dir, ...T });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`replayed ${text}: 0 went through, ${text} failed again; ${text} entries left`);
    expect(readFileSync(join(p.dir, 'out.jsonl')).equals(before)).toBe(true);
    expectExactlyOnce(p, count);
  }, LONG);

  it('refuses dead letters of a step the job no longer has, naming it, and changes nothing', async () => {
    const p = project(60);
    expect((await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: p.dir, ...T })).code).toBe(0);
    const deadBefore = readFileSync(join(p.dir, '.sluice/dead-letter/fixme.jsonl'));
    writeFileSync(join(p.dir, 'job.yaml'), job(10_000, 'validate-amount'));
    const replay = await sluice(['replay', 'job.yaml'], { cwd: p.dir, ...T });
    expect(replay.code).toBe(2);
    expect(replay.stderr).toMatch(/^sluice replay: .*fixme\.jsonl holds dead letters of 'check' \(\d+ entries\), which this job has no step for \(its steps: bump, validate-amount, double, sink\)/);
    expect(replay.stderr).not.toMatch(STACK_LINE);
    expect(readFileSync(join(p.dir, '.sluice/dead-letter/fixme.jsonl')).equals(deadBefore)).toBe(true);
    // validate says so beforehand, as a warning: the job itself is fine.
    const validate = await sluice(['validate', 'job.yaml'], { cwd: p.dir, ...T });
    expect(validate.code).toBe(0);
    expect(validate.stdout).toMatch(/job\.yaml  warning: \.sluice\/dead-letter\/fixme\.jsonl holds dead letters of 'check' \(\d+ entries\), which this job has no step for; sluice replay will refuse them/);
  }, LONG);

  it('loses and duplicates nothing when replays are SIGKILLed as they start, midway and as they commit', async () => {
    const count = 3000;
    const p = project(count);
    expect((await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: p.dir, ...T })).code).toBe(0);
    // Spaced out, so a replay of the ~490 dead letters takes seconds (whatever the load) and its
    // progress events come while it writes.
    writeFileSync(join(p.dir, 'job.yaml'), job(10_000, 'check', '100/s'));
    const checkpoint = () => JSON.parse(readFileSync(join(p.dir, '.sluice/checkpoints/fixme.json'), 'utf8'));
    const ahead = () => readFileSync(join(p.dir, 'out.jsonl')).length - checkpoint().sinks.sink.size;
    const left: Record<string, unknown> = {};
    for (const [moment, match] of KILLS) {
      await killReplayAt(p.dir, match);
      left[moment] = { ahead: ahead(), writing: checkpoint().replay?.writing !== undefined };
    }
    // What each kill left: a replay that had begun (the checkpoint says so: no run may write),
    // output past the checkpoint that the redo cuts off, and a committed replay.
    expect(left, JSON.stringify(left)).toMatchObject({
      started: { writing: true },
      midway: { writing: true, ahead: expect.any(Number) },
      committed: { writing: false, ahead: 0 },
    });
    expect((left.midway as { ahead: number }).ahead).toBeGreaterThan(0);
    const last = await sluice(['replay', 'job.yaml'], { cwd: p.dir, ...T });
    expect(last.code, last.stderr).toBe(0);
    expectExactlyOnce(p, count);
  }, LONG);

  it('stops gracefully on SIGTERM: exit 130, nothing committed, and the next replay finishes it', async () => {
    const count = 2000;
    const p = project(count);
    expect((await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: p.dir, ...T })).code).toBe(0);
    writeFileSync(join(p.dir, 'job.yaml'), job(10_000, 'check', '50/s'));
    const child = start(['replay', 'job.yaml', '--progress', 'json'], { cwd: p.dir });
    const exited = finished(child, T.timeoutMs);
    if (await followEvents(child).next((e) => e.type === 'progress' && (e.counters?.written ?? 0) >= 50)) child.kill('SIGTERM');
    const stopped = await exited;
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/^fixme: interrupted after .*\n[^]*\nreplay interrupted: the checkpoint and \.sluice\/dead-letter\/fixme\.jsonl are as they were \(\d+ entries\); run sluice replay again to finish it/);
    expect(JSON.parse(readFileSync(join(p.dir, '.sluice/checkpoints/fixme.json'), 'utf8')).replay.writing).toBeDefined();
    const last = await sluice(['replay', 'job.yaml'], { cwd: p.dir, ...T });
    expect(last.code, last.stderr).toBe(0);
    expectExactlyOnce(p, count);
  }, LONG);

  it('finishes a replay that crashed between saving the checkpoint and swapping the dead-letter file', async () => {
    const count = 100;
    const p = project(count);
    expect((await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: p.dir, ...T })).code).toBe(0);
    const deadFile = join(p.dir, '.sluice/dead-letter/fixme.jsonl');
    const oldDead = readFileSync(deadFile);
    writeFileSync(join(p.dir, 'job.yaml'), job(10_000));
    expect((await sluice(['replay', 'job.yaml'], { cwd: p.dir, ...T })).code).toBe(0);
    const output = readFileSync(join(p.dir, 'out.jsonl'));
    // The state a SIGKILL right after the checkpoint save leaves: new checkpoint, old file, new file beside it.
    const checkpointFile = join(p.dir, '.sluice/checkpoints/fixme.json');
    const checkpoint = JSON.parse(readFileSync(checkpointFile, 'utf8'));
    writeFileSync(`${deadFile}.replay.tmp`, readFileSync(deadFile));
    writeFileSync(deadFile, oldDead);
    writeFileSync(checkpointFile, JSON.stringify({ ...checkpoint, replay: { file: deadFile, temp: `${deadFile}.replay.tmp` } }));

    const replay = await sluice(['replay', 'job.yaml'], { cwd: p.dir, ...T });
    expect(replay.code, replay.stderr).toBe(0);
    expect(readFileSync(join(p.dir, 'out.jsonl')).equals(output)).toBe(true);
    expectExactlyOnce(p, count);
    expect(JSON.parse(readFileSync(checkpointFile, 'utf8')).replay).toBeUndefined();
  }, LONG);
});

describe.concurrent('sluice replay into a sql sink that commits each batch with the checkpoint', () => {
  const sqlJob = (max: number, rate = '') =>
    job(max, 'check', rate)
        .replace('version: 1', 'version: 1\nconnections:\n  db: { client: better-sqlite3, url: out.db }\ncheckpoint: { store: sql, connection: db }')
        .replace('sink:\n  use: file\n  with: { path: out.jsonl }', 'sink:\n  use: sql\n  with: { connection: db, table: t, createTable: true }');
  const tableIds = async (dir: string) => {
    const knex = openSqlite(join(dir, 'out.db'));
    try {
      return (await rows(knex, 'select id from t order by id')).map((r) => Number(r.id));
    } finally {
      await knex.destroy();
    }
  };

  it('writes the replayed records once: its batches are not mistaken for ones the table already has', async () => {
    const count = 400;
    const dir = tempDir('sluice-replay-sql-');
    writeFiles(dir, { 'job.yaml': sqlJob(100), 'in.jsonl': input(count) });
    const first = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(join(dir, 'job.yaml'), sqlJob(10_000));
    const replay = await sluice(['replay', 'job.yaml'], { cwd: dir, ...T });
    expect(replay.code, replay.stderr).toBe(0);
    expect(await tableIds(dir)).toEqual(ids(count, (id) => !isText(id)));
    // A later replay adds nothing, and the checkpoint's batch numbers moved past the replayed ones.
    const again = await sluice(['replay', 'job.yaml'], { cwd: dir, ...T });
    expect(again.code, again.stderr).toBe(0);
    expect(await tableIds(dir)).toEqual(ids(count, (id) => !isText(id)));
  }, LONG);

  /**
   * The crash-test hook armed for one process: SIGKILL right after the sql sink committed the
   * replay's first batch (with its marker), before the replay saves its checkpoint.
   */
  const killedAfterFirstCommit = (dir: string) => {
    const token = randomBytes(16).toString('hex');
    const spec = join(dir, `faults-${token}.json`);
    writeFileSync(spec, JSON.stringify({ token, run: 0, journal: join(dir, 'journal'), crash: { point: 'written', seq: 0, sink: 'sink' } }));
    return { SLUICE_FAULTS: `${token}:${spec}` };
  };

  it('redoes a replay killed after its first batch committed without writing that batch twice (its batches are numbered after the checkpoint, so the marker knows them)', async () => {
    const count = 400;
    const dir = tempDir('sluice-replay-sql-redo-');
    writeFiles(dir, { 'job.yaml': sqlJob(100), 'in.jsonl': input(count) });
    expect((await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T })).code).toBe(0);
    writeFileSync(join(dir, 'job.yaml'), sqlJob(10_000));
    const killed = await sluice(['replay', 'job.yaml'], { cwd: dir, env: killedAfterFirstCommit(dir), ...T });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // The first replayed batch is in the table; the checkpoint and the dead letters do not know it yet.
    expect((await tableIds(dir)).length).toBeGreaterThan(ids(count, (id) => !isText(id) && !isBig(id)).length);
    const redo = await sluice(['replay', 'job.yaml'], { cwd: dir, ...T });
    expect(redo.code, redo.stderr).toBe(0);
    expect(await tableIds(dir)).toEqual(ids(count, (id) => !isText(id)));
  }, LONG);

  it('refuses a run while a killed replay is unfinished (its committed batches would hide the run\'s), and runs once the replay is done', async () => {
    const count = 400;
    const dir = tempDir('sluice-replay-sql-run-');
    writeFiles(dir, { 'job.yaml': sqlJob(100), 'in.jsonl': input(count) });
    expect((await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T })).code).toBe(0);
    writeFileSync(join(dir, 'job.yaml'), sqlJob(10_000));
    const killed = await sluice(['replay', 'job.yaml'], { cwd: dir, env: killedAfterFirstCommit(dir), ...T });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // The job as it was (so the checkpoint fits it), and new input: the run that would read it
    // numbers its batches after the checkpoint, where the replay's committed batch is.
    writeFileSync(join(dir, 'job.yaml'), sqlJob(100));
    appendFileSync(join(dir, 'in.jsonl'), input(count + 200).split('\n').slice(count).join('\n'));
    const refused = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/^sluice run: a replay of this job was interrupted before it finished \(.*\); run sluice replay again to finish it, or start over with --fresh\n$/);
    expect((await sluice(['status', 'job.yaml'], { cwd: dir, ...T })).stdout).toMatch(/replay interrupted: .*fixme\.jsonl; sluice replay finishes it/);
    writeFileSync(join(dir, 'job.yaml'), sqlJob(10_000));
    const redo = await sluice(['replay', 'job.yaml'], { cwd: dir, ...T });
    expect(redo.code, redo.stderr).toBe(0);
    writeFileSync(join(dir, 'job.yaml'), sqlJob(100));
    const run = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T });
    expect(run.code, run.stderr).toBe(0);
    expect(await tableIds(dir)).toEqual(ids(count + 200, (id) => !isText(id) && (id <= count || !isBig(id))));
  }, LONG);

  it('writes each replayed record once when replays are SIGKILLed as they start, midway and as they commit', async () => {
    const count = 2000;
    const dir = tempDir('sluice-replay-sql-kill-');
    writeFiles(dir, { 'job.yaml': sqlJob(100), 'in.jsonl': input(count) });
    expect((await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, ...T })).code).toBe(0);
    const before = (await tableIds(dir)).length;
    writeFileSync(join(dir, 'job.yaml'), sqlJob(10_000, '100/s'));
    const rowsLeft: Record<string, number> = {};
    for (const [moment, match] of KILLS) {
      await killReplayAt(dir, match);
      rowsLeft[moment] = (await tableIds(dir)).length;
    }
    // The midway kill left committed rows past the checkpoint: the redo's markers skip them.
    expect(rowsLeft.midway, JSON.stringify(rowsLeft)).toBeGreaterThan(before);
    const last = await sluice(['replay', 'job.yaml'], { cwd: dir, ...T });
    expect(last.code, last.stderr).toBe(0);
    expect(await tableIds(dir)).toEqual(ids(count, (id) => !isText(id)));
  }, LONG);
});
