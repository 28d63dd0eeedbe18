import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueEvents } from 'bullmq';
import { messageOf, type RunEvent, type RunSummary } from '@sluice/core/internal';
import { int } from '../render/format.js';
import { isFinal, type CombinedRun, type PartitionState } from './combined.js';
import { partitionLabel } from './keys.js';
import type { PartitionQueue } from './partition-queue.js';
import { CoordinatorPart, STOP_WAIT_MS, timed, type CoordinatorContext } from './parts.js';
import { FORWARDED, isSummary, type PartitionProgress } from './protocol.js';

/** How often the coordinator checks every unfinished partition's BullMQ job (it also follows events). */
const POLL_MS = 2000;
/** A partition's job missing in this many polls in a row: Redis lost it. */
const MISSING_POLLS = 2;
/** Redis unanswered this long during a run: give up (the run can be started again). */
const UNREACHABLE_MS = 30_000;
/** Nothing taken by any worker this long: say how to start one. */
const NO_WORKER_HINT_MS = 30_000;

/**
 * Follows a run's partitions into the combined view: the queue's events and a poll of every
 * unfinished partition, the decision that the run is over (done, failed, budget spent, lost) and
 * the stop that ends it (the stop flag, queued partitions taken off, running ones waited for).
 */
export class Follower extends CoordinatorPart {
  private readonly missing = new Map<number, number>();
  /** How often each partition was queued again after a stop this start did not ask for. */
  private readonly requeued = new Map<number, number>();
  /** Partitions whose worker said it is giving them back (its last message carried an interrupted summary). */
  private readonly givingBack = new Set<number>();
  private unreachableSince: number | undefined;
  /** Set once the run must end: why, and how it ends. */
  private ending: { status: RunSummary['status']; reason: string; wait: boolean } | undefined;
  private wake: () => void = () => {};
  /** Set by {@link start}. */
  private partitions!: PartitionQueue;
  combined: CombinedRun | undefined;

  constructor(c: CoordinatorContext) {
    super(c);
  }

  /** The combined view to follow and the queue to put stopped partitions back on. */
  start(combined: CombinedRun, partitions: PartitionQueue): void {
    this.combined = combined;
    this.partitions = partitions;
  }

  /** With plain progress, notes also go to stderr. */
  plainNotes = false;

  /** A line about the partitions: on the bus (json, the screen's notes) and, with plain progress, on stderr. */
  note(level: 'info' | 'warn' | 'error', message: string): void {
    this.combined?.bus.emit({ type: 'log', level, message });
    if (this.plainNotes && level === 'info') this.say(message);
  }

  private partOf(jobId: string): PartitionState | undefined {
    return this.combined?.parts.find((p) => p.id === jobId);
  }

  follow(events: QueueEvents): void {
    events.on('active', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part && !isFinal(part)) {
        part.status = 'running';
        this.missing.delete(part.index);
      }
    });
    events.on('progress', ({ jobId, data }) => {
      const part = this.partOf(jobId);
      if (part) this.takeProgress(part, data, true);
    });
    events.on('completed', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part) void this.refresh(part).catch(() => undefined);
    });
    events.on('failed', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part) void this.refresh(part).catch(() => undefined);
    });
    events.on('waiting', ({ jobId, prev }) => {
      const part = this.partOf(jobId);
      if (part && prev === 'active' && !isFinal(part)) {
        part.status = 'pending';
        // A stalled partition comes back to the queue too: the 'stalled' event tells that story.
        if (!this.givingBack.delete(part.index)) return;
        this.note('warn', `${this.label(part)} was given back by worker ${part.worker ?? '?'} (it stopped); another worker resumes it from its checkpoint`);
      }
    });
    events.on('stalled', ({ jobId }) => {
      const part = this.partOf(jobId);
      if (part && !isFinal(part)) {
        part.status = 'pending';
        this.note('warn', `${this.label(part)}: worker ${part.worker ?? '?'} stopped answering (lock expired); another worker resumes it from its checkpoint`);
      }
    });
  }

  private label(part: PartitionState): string {
    return label(part, this.combined?.count ?? 0);
  }

  /** Takes a worker's progress message in; `live` messages (from the event stream) also carry events to show. */
  takeProgress(part: PartitionState, data: unknown, live: boolean): void {
    if (!data || typeof data !== 'object') return;
    const progress = data as PartitionProgress;
    if (isFinal(part)) return;
    const worker = typeof progress.worker === 'string' ? progress.worker : undefined;
    if (worker && (worker !== part.worker || part.status !== 'running') && !progress.summary) {
      this.note('info', `${this.label(part)} started on worker ${worker}`);
    }
    if (worker) part.worker = worker;
    if (!progress.summary) part.status = 'running';
    if (progress.startCounters && !part.startCounters) part.startCounters = progress.startCounters;
    if (progress.snapshot) part.snapshot = progress.snapshot;
    if (isSummary(progress.summary)) part.summary = progress.summary;
    if (live) {
      if (progress.summary?.status === 'interrupted') this.givingBack.add(part.index);
      else if (!progress.summary) this.givingBack.delete(part.index);
    }
    if (live && this.combined) {
      for (const event of progress.events ?? []) {
        if (!FORWARDED.has(event.type)) continue;
        const shown: RunEvent = event.type === 'log' ? { ...event, message: `${this.label(part)}: ${event.message}` } : event;
        this.combined.bus.emit(shown);
      }
    }
    this.check();
  }

  /** Reads a partition's BullMQ job and takes its state in; false when the job is gone. */
  private async refresh(part: PartitionState): Promise<boolean> {
    let job = await timed(this.queue.getJob(part.id), `read partition ${part.id}`);
    if (!job) return false;
    const state = await timed(job.getState(), `read partition ${part.id}`);
    if (isFinal(part)) return true;
    // The job was read before its state: one that ended in between is read again for its result.
    if ((state === 'completed' && job.returnvalue == null) || (state === 'failed' && !job.failedReason)) {
      job = (await timed(this.queue.getJob(part.id), `read partition ${part.id}`)) ?? job;
    }
    const progress = (job.progress && typeof job.progress === 'object' ? job.progress : {}) as PartitionProgress;
    if (state === 'completed') {
      const value: unknown = job.returnvalue;
      if (typeof progress.worker === 'string') part.worker = progress.worker;
      if (isSummary(value)) this.finish(part, value.status === 'done' ? 'done' : 'failed', value, value.error);
      else this.finish(part, 'failed', undefined, 'the worker returned no run summary');
    } else if (state === 'failed') {
      if (typeof progress.worker === 'string') part.worker = progress.worker;
      const summary = isSummary(progress.summary) ? progress.summary : undefined;
      const reason = job.failedReason || summary?.error || 'failed';
      const interrupted = summary?.status === 'interrupted' || /^interrupted: /.test(reason);
      this.finish(part, interrupted ? 'interrupted' : 'failed', summary, reason.replace(/^interrupted: /, ''));
    } else if (state === 'active') {
      this.takeProgress(part, job.progress, false);
    } else if (part.status === 'running' && state !== 'unknown') {
      part.status = 'pending';
    }
    return true;
  }

  private finish(part: PartitionState, status: 'done' | 'failed' | 'interrupted', summary: RunSummary | undefined, error: string | undefined): void {
    if (isFinal(part)) return;
    const on = part.worker ? ` on worker ${part.worker}` : '';
    // Stopped although this start asked for no stop (the stop flag of an earlier start, seen late): run it on.
    if (status === 'interrupted' && !this.ending && (this.requeued.get(part.index) ?? 0) < 3) {
      this.requeued.set(part.index, (this.requeued.get(part.index) ?? 0) + 1);
      part.status = 'pending';
      if (summary) part.summary = summary;
      this.note('info', `${this.label(part)} was stopped${on} (${error ?? 'interrupted'}); queued again, it resumes from its checkpoint`);
      void this.partitions.requeue(part).catch((e: unknown) => this.end('failed', `could not queue ${this.label(part)} again: ${messageOf(e)}`, true));
      return;
    }
    part.status = status;
    if (summary) part.summary = summary;
    if (error && status !== 'done') part.error = error;
    const records = int(summary?.counters.read ?? 0);
    if (status === 'done') this.note('info', `${this.label(part)} done${on}: ${records} records`);
    else if (status === 'interrupted') this.note('info', `${this.label(part)} stopped${on}; its checkpoint is saved`);
    else this.note('error', `${this.label(part)} failed${on}: ${error ?? 'unknown error'}`);
    this.check();
  }

  /** Decides whether the run is over, or must stop. */
  private check(): void {
    const combined = this.combined;
    if (!combined || this.ending) return this.wake();
    const failed = combined.parts.find((p) => p.status === 'failed');
    if (failed) this.end('failed', `partition ${this.label(failed)} failed: ${failed.error ?? 'unknown error'}`, true);
    else {
      const spent = combined.budgetSpent(combined.parts.every(isFinal));
      if (spent) this.end('failed', spent, true);
    }
    this.wake();
  }

  /** The run ends: `wait` lets running partitions stop and report (they keep their checkpoints). */
  end(status: RunSummary['status'], reason: string, wait: boolean): void {
    if (this.ending) return;
    this.ending = { status, reason, wait };
    this.combined?.bus.emit({ type: 'stopping', reason });
    this.wake();
  }

  /** Follows the run until it is over; resolves to its summary. */
  async watch(): Promise<RunSummary> {
    const combined = this.combined!;
    let lastPoll = 0;
    let hinted = false;
    for (;;) {
      if (!this.ending && combined.parts.every((p) => p.status === 'done')) {
        const spent = combined.budgetSpent(true);
        return spent ? combined.summary('failed', spent) : combined.summary('done');
      }
      if (!this.ending && combined.parts.every(isFinal)) {
        const open = combined.parts.filter((p) => p.status !== 'done').map((p) => this.label(p));
        this.end('failed', `partitions ${open.join(', ')} ended without finishing; run the coordinator again to resume them`, false);
      }
      if (this.ending) return this.stop();
      if (Date.now() - lastPoll >= POLL_MS) {
        lastPoll = Date.now();
        await this.poll();
        if (!hinted && Date.now() - combined.startedAt > NO_WORKER_HINT_MS && combined.parts.every((p) => p.status === 'pending' && !p.worker)) {
          hinted = true;
          this.note(
            'warn',
            `no worker has taken a partition for ${NO_WORKER_HINT_MS / 1000} s; start some: sluice worker --queue ${this.target.display} --prefix ${this.o.prefix} (from this project's folder)`,
          );
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(50, POLL_MS - (Date.now() - lastPoll)));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = () => {};
    }
  }

  /** Reads every unfinished partition's job: catches what the event stream missed, and notices lost ones. */
  private async poll(): Promise<void> {
    const combined = this.combined!;
    let reached = true;
    for (const part of combined.parts) {
      if (isFinal(part)) continue;
      try {
        const exists = await this.refresh(part);
        if (exists) this.missing.delete(part.index);
        else this.missing.set(part.index, (this.missing.get(part.index) ?? 0) + 1);
      } catch {
        reached = false;
        break;
      }
    }
    if (!reached) {
      this.unreachableSince ??= Date.now();
      if (Date.now() - this.unreachableSince >= UNREACHABLE_MS) {
        const open = combined.parts.filter((p) => !isFinal(p)).map((p) => this.label(p));
        this.end(
          'failed',
          `lost the connection to Redis at ${this.target.display} for ${UNREACHABLE_MS / 1000} s: partitions ${open.join(', ')} were not finished; run the coordinator again once Redis is back to redo them`,
          false,
        );
      }
      return;
    }
    this.unreachableSince = undefined;
    const lost = combined.parts.filter((p) => !isFinal(p) && (this.missing.get(p.index) ?? 0) >= MISSING_POLLS);
    if (lost.length) {
      for (const part of lost) part.status = 'lost';
      const open = combined.parts.filter((p) => p.status === 'lost' || !isFinal(p)).map((p) => this.label(p));
      this.end(
        'failed',
        `Redis lost this run's state (restarted without persistence?): partitions ${open.join(', ')} were not finished; ` +
          'run the coordinator again to redo them (sinks keep their guarantees)',
        false,
      );
    }
  }

  /**
   * Stops the run: the stop flag tells the workers to stop their partitions (they drain and
   * checkpoint), queued partitions are taken off the queue, and running ones are waited for.
   */
  private async stop(): Promise<RunSummary> {
    const combined = this.combined!;
    const ending = this.ending!;
    await timed(this.redis.set(this.keys.stop, ending.reason.slice(0, 500), 'EX', 86_400), 'set the stop flag').catch(() => undefined);
    if (ending.wait) {
      const deadline = Date.now() + STOP_WAIT_MS;
      let told = false;
      for (;;) {
        for (const part of combined.parts) {
          if (isFinal(part)) continue;
          try {
            const job = await timed(this.queue.getJob(part.id), 'read a partition');
            if (!job) continue;
            const state = await timed(job.getState(), 'read a partition');
            if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
              await job.remove().catch(() => undefined);
              part.status = 'pending';
            } else await this.refresh(part);
          } catch {
            // Redis is away: nothing more to wait for.
            part.status = part.status === 'running' ? 'pending' : part.status;
          }
        }
        const running = combined.parts.filter((p) => p.status === 'running');
        if (!running.length) break;
        if (Date.now() > deadline) {
          this.say(`sluice run: partitions ${running.map((p) => this.label(p)).join(', ')} did not report within ${STOP_WAIT_MS / 1000} s; they stop at their next check`);
          break;
        }
        if (!told) {
          told = true;
          this.note('info', `waiting for ${running.length} running partition(s) to stop and save their checkpoints`);
        }
        await sleep(500);
      }
    }
    // Done partitions stay done; the rest are what the next start redoes.
    return combined.summary(ending.status, ending.reason);
  }
}

/** `p3/8`. */
export function label(part: PartitionState, count: number): string {
  return partitionLabel(part.index, count);
}
