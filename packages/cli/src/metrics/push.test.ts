import { execFile } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DIST = join(import.meta.dirname, '../../dist/metrics');

/** What the stand-in Pushgateway was sent, and how it answers. */
const received: Array<{ method: string; url: string; headers: IncomingHttpHeaders; body: string }> = [];
let answer = { status: 200, text: '' };
const gateway = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk));
  req.on('end', () => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    res.writeHead(answer.status).end(answer.text);
  });
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  base = `127.0.0.1:${(gateway.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => gateway.close(() => resolve())));

/** Pushes from a fresh process, as a `sluice run --metrics-push` does: the problem it reports, and whether fetch (undici) was loaded. */
async function pushFromFreshProcess(url: string): Promise<{ problem: string | null; undici: boolean }> {
  const script = `
    const { SluiceMetrics } = await import(${JSON.stringify(join(DIST, 'registry.js'))});
    const { pushTarget } = await import(${JSON.stringify(join(DIST, 'address.js'))});
    const { pushMetrics } = await import(${JSON.stringify(join(DIST, 'push.js'))});
    const metrics = await SluiceMetrics.create({ processMetrics: false });
    const problem = await pushMetrics(metrics, pushTarget(${JSON.stringify(url)}), 'orders');
    console.log(JSON.stringify({ problem: problem ?? null, undici: process.moduleLoadList.some((m) => m.includes('undici')) }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(stdout) as { problem: string | null; undici: boolean };
}

describe('pushMetrics', () => {
  // The push is one PUT through node:http; credentials in the URL become a Basic header and never
  // reach the path or a message.
  it('PUTs the metrics to the job\'s group with the URL\'s credentials as a Basic header, without loading fetch', async () => {
    received.length = 0;
    answer = { status: 200, text: '' };
    const { problem, undici } = await pushFromFreshProcess(`http://pusher:s3cr%40t@${base}/`);
    expect(problem).toBeNull();
    expect(undici).toBe(false);
    expect(received).toHaveLength(1);
    const [put] = received;
    expect(put!.method).toBe('PUT');
    expect(put!.url).toBe(`/metrics/job@base64/${Buffer.from('orders').toString('base64url')}`);
    expect(put!.headers.authorization).toBe(`Basic ${Buffer.from('pusher:s3cr@t').toString('base64')}`);
    expect(put!.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(put!.body).toContain('# TYPE sluice_records_read_total counter');
    expect(put!.body).not.toContain('process_cpu');
  });

  it('reports what a gateway that refuses answered, and a gateway that cannot be reached, without the credentials', async () => {
    answer = { status: 400, text: 'pushed metrics are invalid or inconsistent\n' };
    expect((await pushFromFreshProcess(`http://pusher:hunter2@${base}`)).problem).toBe(`the Pushgateway at http://${base} answered 400: pushed metrics are invalid or inconsistent`);
    const closed = await pushFromFreshProcess('http://pusher:hunter2@127.0.0.1:1');
    expect(closed.problem).toMatch(/^could not reach the Pushgateway at http:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
    expect(closed.problem).not.toContain('hunter2');
  });
});
