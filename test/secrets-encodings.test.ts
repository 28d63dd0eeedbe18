// A secret never leaves in any encoding: an API token with /, + , = and & (so it travels
// URL-encoded in a query string) through a local run — output, report, dead letters — and a
// distributed run — coordinator and worker output and every Redis key and value of the run;
// and an SMTP password inside ${env:SMTP_URL} that the server's 535 reply echoes.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';
import { connectRedis, coordinatorResult, diagnostics, dropKeys, startCoordinator, startWorkers, stopAll, uniquePrefix, waitForWorkers } from './support/distributed.js';
import { TestServer } from './support/http-server.js';
import { startSmtpServer } from './support/smtp.js';

const TOKEN = 'Sup3r/Secret+Tok=en&x';
/** Every way the token may be written; spelled out so this list does not share code with the redactor. */
const FORMS = [
  TOKEN,
  'Sup3r%2FSecret%2BTok%3Den%26x',
  'Sup3r%2fSecret%2bTok%3den%26x',
  'U3VwM3IvU2VjcmV0K1Rvaz1lbiZ4', // base64
  'U3VwM3IvU2VjcmV0K1Rvaz1lbiZ4'.replace(/\+/g, '-').replace(/\//g, '_'),
  'Secret', // any recognizable part of it
];

function leaks(text: string): string[] {
  return FORMS.filter((form) => text.includes(form));
}

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ items: 60, pageSize: 10 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.reset();
});

const jobText = (name: string) => `version: 1
name: ${name}
batch: { size: 10 }
source:
  use: http
  with:
    url: ${server.url}/data/page
    query: { api_key: "\${env:API_TOKEN}" }
    items: data.items
    pagination: page
    pageSize: 10
    total: meta.total
  onError: deadLetter
  retry: { attempts: 2, initialDelay: 10ms, jitter: false }
sink:
  use: file
  with: { path: out/items.jsonl }
`;

/** Every file under `dir`, as one text. */
function filesOf(dir: string): string {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.push(readFileSync(join(entry.parentPath, entry.name), 'utf8'));
  }
  return out.join('\n');
}

describe('an API token in a query string', () => {
  it('appears in no encoding in the output, the report, the dead letters or the checkpoint of a local run', async () => {
    const dir = tempDir('sluice-secret-');
    writeFileSync(join(dir, 'job.yaml'), jobText('leak-local'));
    // A 503 that is retried (a warning naming the request), then a page that is HTML (a dead letter).
    server.inject('/data/page', { kind: 'status', status: 503 });
    server.injectAfter('/data/page', 2, { kind: 'html' });
    const run = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'plain', '--report', join(dir, 'report.json'), '--verbose'], {
      env: { API_TOKEN: TOKEN },
    });
    expect(run.code, run.stderr).toBe(0);
    // The token did go to the server, URL-encoded: that is what must be hidden everywhere else.
    expect(server.seen('/data/page')[0]!.query.get('api_key')).toBe(TOKEN);
    const report = readFileSync(join(dir, 'report.json'), 'utf8');
    expect(report).toMatch(/"deadLettered": 1/);
    expect(run.stdout + run.stderr).toMatch(/api_key=\*\*\*/);
    expect(leaks(run.stdout + run.stderr)).toEqual([]);
    expect(leaks(filesOf(dir))).toEqual([]);
  });
});

describe('an API token in a distributed run', () => {
  const prefix = uniquePrefix();
  afterEach(async () => {
    await stopAll();
    await dropKeys(prefix);
  });

  it('appears in no encoding in the coordinator\'s or the workers\' output, or in any Redis key or value', async () => {
    const dir = tempDir('sluice-secret-dist-');
    writeFileSync(join(dir, 'job.yaml'), jobText('leak-distributed'));
    process.env.API_TOKEN = TOKEN;
    server.injectAfter('/data/page', 1, { kind: 'status', status: 503 });
    server.injectAfter('/data/page', 3, { kind: 'html' });
    const workers = startWorkers(2, { prefix, cwd: dir });
    await waitForWorkers(prefix, 2, { procs: workers });
    const coordinator = startCoordinator(join(dir, 'job.yaml'), { prefix, partitions: 3, report: join(dir, 'report.json'), cwd: dir });
    const result = await coordinatorResult(coordinator, join(dir, 'report.json'), 60_000);
    expect(result.code, diagnostics(coordinator, ...workers)).toBe(0);
    expect(result.report?.counters.deadLettered, diagnostics(coordinator, ...workers)).toBe(1);

    const redis = connectRedis();
    const stored: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          stored.push(key);
          const type = await redis.type(key);
          if (type === 'string') stored.push(String(await redis.get(key)));
          else if (type === 'hash') stored.push(JSON.stringify(await redis.hgetall(key)));
          else if (type === 'list') stored.push(JSON.stringify(await redis.lrange(key, 0, -1)));
          else if (type === 'set') stored.push(JSON.stringify(await redis.smembers(key)));
          else if (type === 'zset') stored.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
          else if (type === 'stream') stored.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        }
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    expect(stored.length).toBeGreaterThan(5);
    const output = [coordinator, ...workers].map((p) => p.stdout() + p.stderr()).join('\n');
    // The retried 503 and the dead-lettered page went through Redis to the coordinator, the token masked.
    expect(`${stored.join('\n')}\n${output}`, output).toMatch(/api_key=\*\*\*/);
    expect(leaks(stored.join('\n'))).toEqual([]);
    expect(leaks(output)).toEqual([]);
    expect(leaks(filesOf(dir))).toEqual([]);
  });
});

describe('an SMTP password inside ${env:SMTP_URL}', () => {
  it('is masked when the server\'s 535 reply echoes it', async () => {
    const password = 'M@il/Pa ss+1';
    const smtp = await startSmtpServer({ auth: { user: 'mailer', pass: 'right-one' }, echoCredentials: true });
    try {
      const dir = tempDir('sluice-secret-smtp-');
      writeFileSync(join(dir, 'in.jsonl'), '{"id":1,"email":"a@example.com"}\n');
      writeFileSync(
        join(dir, 'job.yaml'),
        `version: 1
name: leak-smtp
source:
  use: file
  with: { path: in.jsonl }
sink:
  use: email
  with:
    smtp: \${env:SMTP_URL}
    tls: { rejectUnauthorized: false }   # smtp-server's self-signed test certificate
    from: etl@example.com
    to: "{{ record.email }}"
    subject: hello
    text: hi
    key: record.id
`,
      );
      const url = `smtp://mailer:${encodeURIComponent(password)}@127.0.0.1:${smtp.port}`;
      const run = await sluice(['run', join(dir, 'job.yaml'), '--progress', 'plain', '--report', join(dir, 'report.json')], { env: { SMTP_URL: url } });
      expect(run.code).not.toBe(0);
      expect(smtp.stats.authFailures).toBeGreaterThan(0);
      expect(run.stderr).toMatch(/535/);
      const everything = run.stdout + run.stderr + filesOf(dir);
      for (const form of [password, encodeURIComponent(password), 'Pa ss', 'Pa+ss', 'Pa%20ss']) expect(everything).not.toContain(form);
    } finally {
      await smtp.close();
    }
  });
});
