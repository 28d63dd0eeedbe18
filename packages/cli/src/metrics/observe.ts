import type { RunSummary } from '@sluice/core/internal';
import { UsageError } from '../args.js';
import type { RunSpans } from '../tracing/run-spans.js';
import { listenAddress, pushTarget, type ListenAddress, type PushTarget } from './address.js';
import type { SluiceMetrics } from './registry.js';
import type { WatchedRun } from './run-feed.js';
import type { PartitionOutcome, WorkerFeed } from './worker-feed.js';

export const METRICS_USAGE = `  --metrics HOST:PORT     serve Prometheus metrics at http://HOST:PORT/metrics while the process
                          lives (:9464 for every interface; docs/operating.md)`;
export const METRICS_PUSH_USAGE = `  --metrics-push URL      push the final metrics to this Prometheus Pushgateway when the run
                          ends, however it ends (http://pushgateway:9091)`;

export interface ObserveFlags {
  readonly metrics?: ListenAddress;
  readonly push?: PushTarget;
}

/** `--metrics`, `--metrics-push`, checked before anything runs (usage errors exit 2). */
export function observeFlags(values: { metrics?: string; 'metrics-push'?: string }, usage: string): ObserveFlags {
  try {
    return {
      ...(values.metrics !== undefined ? { metrics: listenAddress(values.metrics) } : {}),
      ...(values['metrics-push'] !== undefined ? { push: pushTarget(values['metrics-push']) } : {}),
    };
  } catch (error) {
    throw new UsageError((error as Error).message, usage);
  }
}

/** The summary of a run refused at start (locked, another version's checkpoint): it failed, counting nothing. */
export function refusedSummary(job: string, error: string): RunSummary {
  const zero = { read: 0, produced: 0, written: 0, filtered: 0, deadLettered: 0, skipped: 0, retries: 0 };
  return { job, status: 'failed', error, durationMs: 0, counters: zero, thisRun: { ...zero }, steps: [], dryRun: false, resumed: false };
}

/** A followed run: ends its metrics and trace (idempotent; the run's own `end` event does the same). */
export type RunEnd = (summary?: RunSummary) => void;

/**
 * What operators watch a process by: the metrics endpoint and push (flags), the traces (OTEL_*
 * variables). Nothing is loaded when none is asked for.
 */
export class Observability {
  /** The job of the run followed, once one is. */
  private job: string | undefined;
  /** The job this process was asked to run (`sluice run`), redacted: pushed as failed when no run was followed. */
  expected: string | undefined;

  private constructor(
    private readonly flags: ObserveFlags,
    private readonly say: (line: string) => void,
    readonly metrics: SluiceMetrics | undefined,
    readonly spans: RunSpans | undefined,
    private readonly close: () => Promise<void>,
    private readonly workerFeed: WorkerFeed | undefined,
  ) {}

  /** `worker`: for `sluice worker` (its metrics are there from the first scrape on). */
  static async open(flags: ObserveFlags, say: (line: string) => void, options: { env?: NodeJS.ProcessEnv; worker?: boolean } = {}): Promise<Observability> {
    const env = options.env ?? process.env;
    let metrics: SluiceMetrics | undefined;
    let workerFeed: WorkerFeed | undefined;
    let close = async () => {};
    if (flags.metrics || flags.push) {
      const { SluiceMetrics } = await import('./registry.js');
      metrics = await SluiceMetrics.create({ processMetrics: flags.metrics !== undefined });
      if (options.worker) {
        const { WorkerFeed } = await import('./worker-feed.js');
        metrics.addWorker((workerFeed = new WorkerFeed()));
      }
    }
    if (flags.metrics && metrics) {
      const { serveMetrics } = await import('./server.js');
      try {
        const served = await serveMetrics(metrics, flags.metrics);
        say(`sluice: metrics at ${served.url}`);
        close = () =>
          new Promise<void>((resolve) => {
            served.server.close(() => resolve());
            served.server.closeIdleConnections();
          });
      } catch (error) {
        throw new UsageError(`--metrics: cannot listen on ${flags.metrics.host}:${flags.metrics.port}: ${(error as Error).message}`);
      }
    }
    const hasOtel = Object.keys(env).some((key) => key.startsWith('OTEL_'));
    const spans = hasOtel ? await (await import('../tracing/setup.js')).openTracing(env, say) : undefined;
    return new Observability(flags, say, metrics, spans, close, workerFeed);
  }

  /** Follows one `sluice run` (local, threads or coordinator). */
  async watchRun(run: WatchedRun): Promise<RunEnd> {
    if (!this.metrics && !this.spans) return () => {};
    this.job = run.redact(run.plan.name);
    let feed: import('./run-feed.js').RunFeed | undefined;
    let unobserve = () => {};
    if (this.metrics) {
      const { RunFeed } = await import('./run-feed.js');
      feed = new RunFeed(run);
      this.metrics.add(feed);
      unobserve = this.metrics.observe(run.timings ?? run.bus, feed.job, run.redact);
    }
    const endSpan = this.spans?.follow(run);
    return (summary) => {
      if (summary) {
        feed?.end(summary);
        endSpan?.(summary);
      }
      unobserve();
      feed?.close();
    };
  }

  /** For `sluice worker` (opened with `worker`): follows each partition attempt; call the result with how it ended. */
  worker(): ((run: WatchedRun, attributes: Record<string, string | number>) => (outcome: PartitionOutcome, summary?: RunSummary) => void) | undefined {
    if (!this.metrics && !this.spans) return undefined;
    const feed = this.workerFeed;
    return (run, attributes) => {
      const ended = feed?.attempt(run);
      const unobserve = this.metrics?.observe(run.bus, run.redact(run.plan.name), run.redact) ?? (() => {});
      const endSpan = this.spans?.follow(run, attributes);
      return (outcome, summary) => {
        unobserve();
        ended?.(outcome);
        if (summary) endSpan?.(summary);
      };
    };
  }

  /**
   * The process is done with its run(s): push the final metrics (`--metrics-push`), export the
   * last spans, stop serving. A failed push is one line on stderr; it does not change the exit code.
   */
  async finish(): Promise<void> {
    if (this.flags.push && this.metrics) {
      const { pushMetrics } = await import('./push.js');
      // The run ended before it began (Redis unreachable, a refusal of --threads): a failed run, counting nothing.
      if (this.job === undefined && this.expected !== undefined) {
        const { notRun } = await import('./totals.js');
        this.metrics.add(notRun(this.expected));
      }
      const problem = await pushMetrics(this.metrics, this.flags.push, this.job ?? this.expected ?? 'sluice');
      if (problem) this.say(`sluice: --metrics-push: ${problem}`);
    }
    await this.spans?.shutdown();
    await this.close();
  }
}
