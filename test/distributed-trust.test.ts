// What a distributed worker will run (docs/distributed.md, "Trust model"): only the job file in
// its own folder, only when it is the coordinator's, and only what a coordinator holding the same
// queue key signed. Also Redis as a guarded service: an ACL user with a password, and TLS with a
// certificate authority made here with openssl, for the coordinator, the workers and the redis
// checkpoint store. Real redis-server processes, real CLI processes.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import {
  connectRedis,
  coordinatorResult,
  diagnostics,
  dropKeys,
  PrivateRedis,
  QUEUE_KEY,
  startCoordinator,
  startWorker,
  stopAll,
  uniquePrefix,
  waitForWorkers,
  writeJsonl,
} from './support/distributed.js';

const RECORDS = 200;
const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** A job over `in.jsonl`; `leak` adds the issue's step that reads a file of the sender's choosing. */
function jobText(o: { leak?: boolean; extraStep?: boolean; checkpoint?: string } = {}): string {
  return `version: 1
name: trust
batch: { size: 50 }
${o.checkpoint ?? ''}source:
  use: file
  with: { path: in.jsonl }
steps:
  - id: mark
    use: map
    with:
      set:
        seen: "true"
${o.leak ? `        leaked: "'\${file:/etc/hostname}'"\n` : ''}${o.extraStep ? '  - id: keep\n    use: filter\n    with: { where: "record.id > 0" }\n' : ''}sink:
  use: file
  with: { path: out/out.jsonl }
`;
}

/** A project folder: `in.jsonl` and, unless `job` is undefined, `job.yaml`. */
async function project(job: string | undefined): Promise<string> {
  const dir = tempDir('sluice-trust-');
  await writeJsonl(join(dir, 'in.jsonl'), RECORDS);
  if (job !== undefined) writeFileSync(join(dir, 'job.yaml'), job);
  return dir;
}

/** Every record written under `dir/out`, by id. */
function written(dir: string): Map<number, Record<string, unknown>> {
  const out = join(dir, 'out');
  const records = new Map<number, Record<string, unknown>>();
  if (!existsSync(out)) return records;
  for (const file of readdirSync(out).filter((f) => f.endsWith('.jsonl') && !f.includes('.tmp'))) {
    for (const line of readFileSync(join(out, file), 'utf8').split('\n').filter(Boolean)) {
      const record = JSON.parse(line) as Record<string, unknown>;
      records.set(record.id as number, record);
    }
  }
  return records;
}

const prefixes: Array<{ prefix: string; url?: string }> = [];
function newPrefix(url?: string): string {
  const prefix = uniquePrefix();
  prefixes.push({ prefix, ...(url ? { url } : {}) });
  return prefix;
}

afterEach(async () => {
  await stopAll();
  for (const { prefix, url } of prefixes.splice(0)) await dropKeys(prefix, url).catch(() => 0);
});

/** One worker in `workerDir`, one coordinator in `coordDir`; resolves to the coordinator's result and the worker. */
async function distributedRun(
  o: { workerDir: string; coordDir: string; workerEnv?: NodeJS.ProcessEnv; coordEnv?: NodeJS.ProcessEnv; workerExtra?: string[]; coordExtra?: string[]; url?: string },
) {
  const prefix = newPrefix(o.url);
  const worker = startWorker({ prefix, cwd: o.workerDir, name: 'w1', ...(o.url ? { url: o.url } : {}), ...(o.workerEnv ? { env: o.workerEnv } : {}), ...(o.workerExtra ? { extra: o.workerExtra } : {}) });
  await waitForWorkers(prefix, 1, { procs: [worker], ...(o.url ? { url: o.url } : {}) });
  const report = join(o.coordDir, `report-${prefix}.json`);
  const coordinator = startCoordinator('job.yaml', {
    prefix,
    partitions: 2,
    report,
    cwd: o.coordDir,
    ...(o.url ? { url: o.url } : {}),
    ...(o.coordEnv ? { env: o.coordEnv } : {}),
    ...(o.coordExtra ? { extra: o.coordExtra } : {}),
  });
  const result = await coordinatorResult(coordinator, report, 60_000);
  return { result, worker, coordinator, prefix };
}

describe('a worker runs only its own checkout', () => {
  it("the issue's reproduction: a worker without the job refuses it; the coordinator fails with that message; nothing is written", async () => {
    const workerDir = await project(undefined);
    const coordDir = await project(jobText({ leak: true }));
    const { result, worker, coordinator } = await distributedRun({ workerDir, coordDir });
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(1);
    const digest = sha(readFileSync(join(coordDir, 'job.yaml'), 'utf8'));
    expect(result.stderr, why).toContain(`job file job.yaml is not in this worker's checkout (${workerDir}): the coordinator's has fingerprint ${digest}`);
    expect(worker.stderr(), why).toContain('refused');
    expect(existsSync(join(workerDir, 'out')), why).toBe(false);
    expect(existsSync(join(coordDir, 'out')), why).toBe(false);
    expect(result.report?.counters.written ?? 0).toBe(0);
  });

  it("a coordinator whose job has one step more than the worker's copy is refused, naming both fingerprints", async () => {
    const workerDir = await project(jobText());
    const coordDir = await project(jobText({ extraStep: true }));
    const { result, worker, coordinator } = await distributedRun({ workerDir, coordDir });
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(1);
    const own = sha(jobText());
    const theirs = sha(jobText({ extraStep: true }));
    expect(result.stderr, why).toContain(`job file job.yaml differs from the coordinator's: fingerprint ${own} on this worker, ${theirs} on the coordinator`);
    expect(written(workerDir).size, why).toBe(0);
  });

  it('the same job on both sides runs: every record once, in the worker\'s folder', async () => {
    const workerDir = await project(jobText());
    const coordDir = await project(jobText());
    const { result, worker, coordinator, prefix } = await distributedRun({ workerDir, coordDir });
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(0);
    expect(written(workerDir).size, why).toBe(RECORDS);
    // The key is in no message, report or Redis value: Redis holds only signatures.
    const redis = connectRedis();
    try {
      const keys = await redis.keys(`${prefix}:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const type = await redis.type(key);
        const value = type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : type === 'string' ? await redis.get(key) : '';
        expect(value ?? '').not.toContain(QUEUE_KEY);
      }
    } finally {
      redis.disconnect();
    }
    expect(`${result.stdout}${result.stderr}${worker.stderr()}${JSON.stringify(result.report)}`).not.toContain(QUEUE_KEY);
  });
});

describe('signed messages', () => {
  const OTHER_KEY = 'another-key-that-is-long-enough-0000';

  it('a --set signed with another key is refused', async () => {
    const workerDir = await project(jobText());
    const coordDir = await project(jobText());
    const { result, worker, coordinator } = await distributedRun({
      workerDir,
      coordDir,
      coordEnv: { SLUICE_QUEUE_KEY: OTHER_KEY },
      coordExtra: ['--set', 'sink.with.path=/tmp/elsewhere.jsonl'],
    });
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(1);
    expect(result.stderr, why).toMatch(/has a wrong signature: it was signed with another queue key, or changed in Redis/);
    expect(written(workerDir).size).toBe(0);
    expect(`${result.stderr}${worker.stderr()}`).not.toContain(OTHER_KEY);
  });

  it('a signed message whose --set was changed in Redis is refused', async () => {
    const workerDir = await project(jobText());
    const coordDir = await project(jobText());
    const prefix = newPrefix();
    const report = join(coordDir, 'report.json');
    // The coordinator queues its signed partitions; no worker takes them yet.
    const coordinator = startCoordinator('job.yaml', { prefix, partitions: 1, report, cwd: coordDir });
    const redis = connectRedis();
    try {
      let key: string | undefined;
      for (let i = 0; i < 200 && !key; i++) {
        key = (await redis.keys(`${prefix}:jobs:trust:*:p0`))[0];
        if (!key) await sleep(50);
      }
      expect(key, diagnostics(coordinator)).toBeDefined();
      const data = JSON.parse((await redis.hget(key!, 'data'))!) as { sets: string[]; signature: string };
      expect(data.signature).toMatch(/^[0-9a-f]{64}$/);
      await redis.hset(key!, 'data', JSON.stringify({ ...data, sets: ['sink.with.path=/tmp/stolen.jsonl'] }));
    } finally {
      redis.disconnect();
    }
    const worker = startWorker({ prefix, cwd: workerDir, name: 'w1' });
    const result = await coordinatorResult(coordinator, report, 60_000);
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(1);
    expect(result.stderr, why).toContain('has a wrong signature');
    expect(written(workerDir).size).toBe(0);
  });

  it('an unsigned message (coordinator --insecure-queue) is refused by a worker holding a key', async () => {
    const workerDir = await project(jobText());
    const coordDir = await project(jobText());
    const { result, worker, coordinator } = await distributedRun({ workerDir, coordDir, coordEnv: { SLUICE_QUEUE_KEY: '' }, coordExtra: ['--insecure-queue'] });
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(1);
    expect(result.stderr, why).toContain('is not signed; this worker only runs messages signed with its queue key');
  });

  it('both sides --insecure-queue (a trusted local setup) runs, and the worker says what it gives up', async () => {
    const workerDir = await project(jobText());
    const coordDir = await project(jobText());
    const env = { SLUICE_QUEUE_KEY: '' };
    const { result, worker, coordinator } = await distributedRun({ workerDir, coordDir, coordEnv: env, workerEnv: env, coordExtra: ['--insecure-queue'], workerExtra: ['--insecure-queue'] });
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(0);
    expect(written(workerDir).size).toBe(RECORDS);
    expect(worker.stderr()).toContain('--insecure-queue: running unsigned partitions');
  });

  it.each([
    ['worker', ['worker', '--queue', 'redis://127.0.0.1:6379'], 'no queue key: set SLUICE_QUEUE_KEY'],
    ['coordinator', ['run', 'job.yaml', '--workers', 'redis://127.0.0.1:6379'], 'no queue key: set SLUICE_QUEUE_KEY'],
    ['worker with a short key', ['worker', '--queue', 'redis://127.0.0.1:6379'], 'the queue key must be at least 16 bytes'],
  ])('a %s without a usable key exits 2 saying how to set one', async (name, args, message) => {
    const dir = await project(jobText());
    const result = await sluice(args, { cwd: dir, env: { SLUICE_QUEUE_KEY: name.includes('short') ? 'short' : '' }, timeoutMs: 20_000 });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('Redis as a guarded service', () => {
  const PASSWORD = 'pa55/w0rd+of-alice';
  let certs: string;

  beforeAll(() => {
    // A certificate authority and a server certificate for 127.0.0.1 that it signed.
    certs = tempDir('sluice-tls-');
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'pipe' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=sluice test CA');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(certs, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.cnf');
  });

  const servers = {
    'an ACL user with a password (redis://alice:…@)': {
      args: () => ['--user', 'alice', 'on', `>${PASSWORD}`, '~*', '&*', '+@all', '--user', 'default', 'off'],
      client: { username: 'alice', password: PASSWORD },
      url: (port: number) => `redis://alice:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`,
      tls: false,
    },
    'TLS with a password (rediss://…, CA file)': {
      args: (port: number) => [
        '--port', '0', '--tls-port', String(port), '--tls-cert-file', join(certs, 'server.pem'), '--tls-key-file', join(certs, 'server.key'),
        '--tls-ca-cert-file', join(certs, 'ca.pem'), '--tls-auth-clients', 'no', '--requirepass', PASSWORD,
      ],
      client: { password: PASSWORD, tls: { ca: '' } },
      url: (port: number) => `rediss://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`,
      tls: true,
    },
  };

  it.each(Object.keys(servers))('%s: a distributed run and the redis checkpoint store work, and no password is shown', async (name) => {
    const s = servers[name as keyof typeof servers];
    const client = s.tls ? { ...s.client, tls: { ca: readFileSync(join(certs, 'ca.pem')) } } : s.client;
    const redis = await PrivateRedis.start({ args: s.args, client });
    const url = s.url(redis.port);
    const ca = s.tls ? ['--redis-ca', join(certs, 'ca.pem')] : [];

    // Distributed: coordinator and worker on the guarded Redis (partition checkpoints in it too).
    const workerDir = await project(jobText());
    const coordDir = await project(jobText());
    const { result, worker, coordinator } = await distributedRun({ workerDir, coordDir, url, workerExtra: ca, coordExtra: ca });
    const why = diagnostics(coordinator, worker);
    expect(result.code, why).toBe(0);
    expect(written(workerDir).size, why).toBe(RECORDS);

    // Local: the job's checkpoint in the guarded Redis (`?ca=` names the CA file for rediss://).
    const local = await project(jobText({ checkpoint: `checkpoint: { store: redis, url: "\${env:CP_URL}", prefix: ${newPrefix()} }\n` }));
    const cpUrl = s.tls ? `${url}?ca=${encodeURIComponent(join(certs, 'ca.pem'))}` : url;
    const run = await sluice(['run', 'job.yaml', '--progress', 'none'], { cwd: local, env: { CP_URL: cpUrl }, timeoutMs: 30_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`checkpoint: `);
    expect(written(local).size).toBe(RECORDS);
    const direct = connectRedisWith(redis.port, client);
    try {
      expect(await direct.keys('*:checkpoint:trust')).toHaveLength(1);
    } finally {
      direct.disconnect();
    }

    // A wrong password: one clear line naming the host, not the password.
    const wrong = s.url(redis.port).replace(encodeURIComponent(PASSWORD), 'not-the-password');
    const refused = await sluice(['worker', '--queue', wrong, ...ca], { cwd: workerDir, env: { SLUICE_QUEUE_KEY: QUEUE_KEY }, timeoutMs: 20_000 });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/cannot reach Redis at rediss?:\/\/127\.0\.0\.1:\d+ \(--queue\): (WRONGPASS|NOAUTH)/);
    for (const text of [result.stdout, result.stderr, worker.stderr(), run.stdout, run.stderr, refused.stderr, JSON.stringify(result.report)]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(encodeURIComponent(PASSWORD));
      expect(text).not.toContain('not-the-password');
    }
    await redis.kill();
  });
});

function connectRedisWith(port: number, options: RedisOptions): Redis {
  const client = new Redis({ host: '127.0.0.1', port, ...options, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  return client;
}
