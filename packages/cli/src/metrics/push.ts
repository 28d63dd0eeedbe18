import type { IncomingMessage } from 'node:http';
import type { PushTarget } from './address.js';
import type { SluiceMetrics } from './registry.js';

/** Pushes give up after this long: a run's exit never waits on a slow Pushgateway for more. */
const PUSH_TIMEOUT_MS = 10_000;

/**
 * Replaces this job's group on a Pushgateway with the run's final metrics (PUT
 * /metrics/job@base64/<job>; Node's process metrics are not pushed). Resolves to a problem to
 * report, or undefined when the gateway took them. One request through node:http(s), not `fetch`:
 * the first `fetch` of a process loads undici, ~50 ms of CPU more than the whole push otherwise
 * costs — for a feature meant for short runs (bench/results/metrics-overhead-startup-*.md).
 */
export async function pushMetrics(metrics: SluiceMetrics, target: PushTarget, job: string): Promise<string | undefined> {
  const body = await metrics.text(false);
  const base = target.url.href.replace(/\/$/, '');
  const url = new URL(`${base}/metrics/job@base64/${Buffer.from(job).toString('base64url') || '='}`);
  const { request } = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const signal = AbortSignal.timeout(PUSH_TIMEOUT_MS);
  try {
    const response = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers = { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(body), ...(target.authorization ? { authorization: target.authorization } : {}) };
      const req = request(url, { method: 'PUT', headers, signal }, (res: IncomingMessage) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += text.length < 1000 ? chunk : ''));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    if (response.status >= 200 && response.status < 300) return undefined;
    const text = response.text.trim().slice(0, 200);
    return `the Pushgateway at ${target.display} answered ${response.status}${text ? `: ${text}` : ''}`;
  } catch (error) {
    const reason = signal.aborted ? `no answer in ${PUSH_TIMEOUT_MS / 1000} s` : (error as Error).message;
    return `could not reach the Pushgateway at ${target.display}: ${reason}`;
  }
}
