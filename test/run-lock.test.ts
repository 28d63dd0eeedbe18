// Two runs of the same job at once (issue 13 item 2): the first holds its job state for its whole
// life; a second exits 2 naming the holder and how to clear a stale lock; the first finishes with
// its output exact. For every checkpoint store: file (the 200k-record reproduction), SQLite,
// PostgreSQL, MariaDB and Redis. Real CLI processes, real databases.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { availability, createDatabase, type Client, type TestDatabase } from '../packages/plugins/sql/test/services.js';
import { finished, sluice, start, tempDir } from './support/cli.js';
import { dropKeys, REDIS_URL, writeJsonl } from './support/distributed.js';

const services = await availability();
const dbs: TestDatabase[] = [];
const prefixes: string[] = [];

const children: Array<ReturnType<typeof start>> = [];
afterEach(async () => {
  // A failed test may leave its paused first run behind.
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const prefix of prefixes.splice(0)) await dropKeys(prefix).catch(() => 0);
});
afterAll(async () => {
  for (const db of dbs.splice(0)) await db.drop().catch(() => undefined);
});

/** A job over `n` records whose sink is slowed so that a second run starts while the first runs. */
async function project(n: number, checkpoint: string, connections = '', rate = '40/s'): Promise<string> {
  const dir = tempDir('sluice-lock-');
  await writeJsonl(join(dir, 'in.jsonl'), n);
  writeFileSync(
    join(dir, 'job.yaml'),
    `version: 1
name: locked
${connections}${checkpoint}batch: { size: 1000 }
source: { use: file, with: { path: in.jsonl } }
sink:
  use: file
  with: { path: out/out.jsonl }
  rateLimit: ${rate}
`,
  );
  return dir;
}

/** Every line of the output is the input's record, in order, once. */
function expectExact(dir: string, n: number): void {
  const lines = readFileSync(join(dir, 'out', 'out.jsonl'), 'utf8').split('\n');
  expect(lines.pop()).toBe('');
  expect(lines).toHaveLength(n);
  for (let i = 0; i < n; i += 997) expect((JSON.parse(lines[i]!) as { id: number }).id).toBe(i + 1);
  expect((JSON.parse(lines[n - 1]!) as { id: number }).id).toBe(n);
  expect(new Set(lines).size).toBe(n);
}

/**
 * Starts the first run and waits until it has written something (it holds the lock by then),
 * then pauses it (SIGSTOP) so that it is still running whatever the machine's load: the caller
 * resumes it with SIGCONT. A paused process keeps its lock, session and lease (30 s).
 */
async function firstRun(dir: string) {
  const first = start(['run', 'job.yaml', '--progress', 'plain'], { cwd: dir });
  children.push(first);
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(dir, 'out', 'out.jsonl')) || readFileSync(join(dir, 'out', 'out.jsonl')).length === 0) {
    if (first.exitCode !== null || Date.now() > deadline) throw new Error(`the first run did not start writing\n${first.output.stderr}`);
    await sleep(50);
  }
  first.kill('SIGSTOP');
  return first;
}

const stores: Array<[string, () => Promise<{ checkpoint: string; connections?: string; clear: RegExp }> , boolean]> = [
  ...(['better-sqlite3', 'pg', 'mysql2'] as Client[]).map(
    (client) =>
      [
        client,
        async () => {
          const db = await createDatabase(client);
          dbs.push(db);
          return {
            connections: `connections:\n  db: { client: ${client}, url: "${db.url}" }\n`,
            checkpoint: 'checkpoint: { store: sql, connection: db }\n',
            clear: client === 'better-sqlite3' ? /delete its row: delete from sluice_locks where job = 'locked'/ : /end its database session/,
          };
        },
        services[client].skip,
      ] as [string, () => Promise<{ checkpoint: string; connections?: string; clear: RegExp }>, boolean],
  ),
  [
    'redis',
    async () => {
      const prefix = `sluice-test-${randomUUID()}`;
      prefixes.push(prefix);
      return { checkpoint: `checkpoint: { store: redis, url: "${REDIS_URL}", prefix: ${prefix} }\n`, clear: /delete the key: redis-cli -u redis:\/\/127\.0\.0\.1:6379 DEL \S+:checkpoint:locked:lock/ };
    },
    false,
  ],
];

describe('one run at a time per job', () => {
  it('the issue\'s reproduction (file store, 200k records): the second run exits 2 naming the holder; the first finishes, output exact', async () => {
    const n = 200_000;
    const dir = await project(n, '');
    const first = await firstRun(dir);
    const second = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, timeoutMs: 30_000 });
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toMatch(
      new RegExp(`^sluice run: another run holds this job's state \\(\\S+locked\\.json\\): pid ${first.pid} on host ${hostname()} since \\S+; wait for it to finish, or, if that run is gone, delete the lock file: rm \\S+locked\\.lock\\n$`),
    );
    // status names the holder; reset refuses while it runs.
    const status = await sluice(['status', 'job.yaml'], { cwd: dir });
    expect(status.stdout).toContain(`running now: pid ${first.pid} on host ${hostname()}`);
    const reset = await sluice(['reset', 'job.yaml'], { cwd: dir });
    expect(reset.code, reset.stderr).toBe(2);
    expect(reset.stderr).toContain(`sluice reset: another run holds this job's state`);

    first.kill('SIGCONT');
    const done = await finished(first, 120_000);
    expect(done.code, done.stderr).toBe(0);
    expectExact(dir, n);
    expect(existsSync(join(dir, '.sluice', 'checkpoints', 'locked.lock'))).toBe(false);
    expect((await sluice(['status', 'job.yaml'], { cwd: dir })).stdout).not.toContain('running now');
  }, 180_000);

  it.each(stores.map(([name, make, skip]) => ({ name, make, skip })))('$name store: a second run exits 2 naming the holder and how to clear it; the first finishes exact', async ({ make, skip }) => {
    if (skip) return;
    const n = 20_000;
    const setup = await make();
    const dir = await project(n, setup.checkpoint, setup.connections ?? '', '10/s');
    const first = await firstRun(dir);
    const second = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, timeoutMs: 30_000 });
    const status = await sluice(['status', 'job.yaml'], { cwd: dir });
    first.kill('SIGCONT');
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toContain(`another run holds this job's state`);
    expect(second.stderr).toContain(`pid ${first.pid} on host ${hostname()}`);
    expect(second.stderr).toMatch(setup.clear);
    expect(status.stdout, status.stderr).toContain(`running now: pid ${first.pid}`);
    const done = await finished(first, 60_000);
    expect(done.code, done.stderr).toBe(0);
    expectExact(dir, n);
    // Released at the end: the next run starts (and has nothing left to do).
    const again = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir, timeoutMs: 30_000 });
    expect(again.code, again.stderr).toBe(0);
  }, 180_000);

  it('MariaDB: jobs of one name in two databases of one server do not lock each other out (GET_LOCK is server-wide)', async () => {
    if (services.mysql2.skip) return;
    const made = [await createDatabase('mysql2'), await createDatabase('mysql2')];
    dbs.push(...made);
    const [one, other] = await Promise.all(
      made.map((db) => project(2_000, 'checkpoint: { store: sql, connection: db }\n', `connections:\n  db: { client: mysql2, url: "${db.url}" }\n`, '10/s')),
    );
    const first = await firstRun(one!);
    // The same job in the other database runs while the first holds its lock...
    const beside = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: other!, timeoutMs: 60_000 });
    // ...and a second run in the first one's database is still refused.
    const second = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: one!, timeoutMs: 30_000 });
    first.kill('SIGCONT');
    expect(beside.code, beside.stderr).toBe(0);
    expectExact(other!, 2_000);
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toContain(`pid ${first.pid} on host ${hostname()}`);
    const done = await finished(first, 60_000);
    expect(done.code, done.stderr).toBe(0);
    expectExact(one!, 2_000);
  }, 180_000);

  it('a lock left by a dead process of this host is taken over; one from another host is not', async () => {
    const dir = await project(100, '', '', '1000/s');
    const lock = join(dir, '.sluice', 'checkpoints', 'locked.lock');
    mkdirSync(join(dir, '.sluice', 'checkpoints'), { recursive: true });

    // A pid that is certainly dead: a child that exited.
    const dead = start(['--version']);
    await finished(dead, 20_000);
    writeFileSync(lock, JSON.stringify({ pid: dead.pid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', token: 'old' }));
    const taken = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: dir });
    expect(taken.code, taken.stderr).toBe(0);
    expect(existsSync(lock)).toBe(false);

    writeFileSync(lock, JSON.stringify({ pid: dead.pid, host: 'elsewhere.example', startedAt: '2026-01-01T00:00:00.000Z', token: 'other' }));
    const refused = await sluice(['run', 'job.yaml', '--progress', 'none', '--fresh'], { cwd: dir });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain(`pid ${dead.pid} on host elsewhere.example since 2026-01-01T00:00:00.000Z`);
    expect(refused.stderr).toContain(`rm ${lock} (check on host elsewhere.example: a lock from another host is never assumed stale)`);
  });
});
