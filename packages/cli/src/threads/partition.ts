import { CheckpointLockedError, CheckpointMismatchError, JobRun, messageOf, type BatchTiming, type JobCounters, type JobPlan, type RunEvent } from '@sluice/core/internal';
import { StartupRefusal } from '@sluice/core';
import { FORWARDED, jsonSafe } from '../distributed/protocol.js';
import type { FromThread } from './protocol.js';
import type { PartitionQueue } from './queue.js';

/** Progress messages at most this often. */
const PUBLISH_MS = 250;
/** Events kept between two progress messages. */
const MAX_EVENTS = 50;

export interface PartitionRunnerOptions {
  readonly plan: JobPlan;
  /** 0 for the main thread, 1… for worker threads. */
  readonly thread: number;
  readonly queue: PartitionQueue;
  readonly specs: readonly unknown[];
  readonly fresh: boolean;
  readonly limiters: Record<string, SharedArrayBuffer>;
  /** Send the engine's batch timings with the progress (the main thread's metrics observe them). */
  readonly timings: boolean;
  readonly post: (message: FromThread) => void;
}

/**
 * Runs partitions of a `--threads` run one after the other, taking each from the shared queue,
 * until none is left: in a worker thread, and in the main thread too, which would otherwise sit
 * idle while the worker threads compute. Reports by the same messages either way.
 */
export class PartitionRunner {
  private current: JobRun | undefined;
  private stopReason: string | undefined;

  constructor(private readonly o: PartitionRunnerOptions) {}

  /** Stops the partition running now; the queue is closed by the main thread, so no other starts. */
  stop(reason: string): void {
    this.stopReason ??= reason;
    this.current?.stop(reason);
  }

  async runAll(): Promise<void> {
    for (let index = this.o.queue.take(this.o.thread); index !== undefined; index = this.o.queue.take(this.o.thread)) await this.run(index);
  }

  private async run(index: number): Promise<void> {
    const { o } = this;
    o.post({ type: 'started', index, thread: o.thread });
    const options = {
      fresh: o.fresh,
      partition: { index, count: o.queue.count, spec: o.specs[index] ?? undefined },
      limiters: o.limiters,
    };
    const jobRun = (this.current = new JobRun(o.plan, options));
    // A stop that came in while this partition was being taken.
    if (this.stopReason !== undefined) jobRun.stop(this.stopReason);
    let startCounters: JobCounters | undefined;
    let events: RunEvent[] = [];
    jobRun.bus.on((event) => {
      if (event.type === 'start') startCounters = event.counters;
      else if (FORWARDED.has(event.type)) {
        events.push(event);
        if (events.length > MAX_EVENTS) events.shift();
      }
    });
    // Without a listener the engine builds no timings: only a run with --metrics pays for them.
    let timings: BatchTiming[] = [];
    if (o.timings) jobRun.bus.onTiming((t) => timings.push(t));
    const publish = () => {
      const snapshot = jobRun.progress();
      o.post(jsonSafe({ type: 'progress', index, ...(startCounters ? { startCounters } : {}), ...(snapshot ? { snapshot } : {}), ...(events.length ? { events } : {}), ...(timings.length ? { timings } : {}) }));
      events = [];
      timings = [];
    };
    const timer = setInterval(publish, PUBLISH_MS);
    try {
      const summary = await jobRun.run();
      publish();
      o.post(jsonSafe({ type: 'end', index, summary }));
    } catch (error) {
      if (error instanceof CheckpointMismatchError || error instanceof CheckpointLockedError || error instanceof StartupRefusal) {
        o.post({ type: 'refused', index, message: error.message });
      } else o.post({ type: 'refused', index, message: `internal error: ${messageOf(error)}` });
    } finally {
      clearInterval(timer);
      this.current = undefined;
    }
  }
}
