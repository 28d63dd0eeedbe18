import type { PushTarget } from './address.js';
import type { SluiceMetrics } from './registry.js';

/** Pushes give up after this long: a run's exit never waits on a slow Pushgateway for more. */
const PUSH_TIMEOUT_MS = 10_000;

/**
 * Replaces this job's group on a Pushgateway with the run's final metrics (PUT
 * /metrics/job@base64/<job>; Node's process metrics are not pushed). Resolves to a problem to
 * report, or undefined when the gateway took them.
 */
export async function pushMetrics(metrics: SluiceMetrics, target: PushTarget, job: string): Promise<string | undefined> {
  const body = await metrics.text(false);
  const base = target.url.href.replace(/\/$/, '');
  const url = `${base}/metrics/job@base64/${Buffer.from(job).toString('base64url') || '='}`;
  try {
    const response = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': metrics.contentType, ...(target.authorization ? { authorization: target.authorization } : {}) },
      body,
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
    });
    if (response.ok) return undefined;
    const text = (await response.text().catch(() => '')).trim().slice(0, 200);
    return `the Pushgateway at ${target.display} answered ${response.status}${text ? `: ${text}` : ''}`;
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    return `could not reach the Pushgateway at ${target.display}: ${cause?.message ?? (error as Error).message}`;
  }
}
