import type { EventBus } from '../events/bus.js';
import type { JobPlan } from '../job/plan.js';
import type { RecordPosition, SluiceRecord } from '../plugin/types.js';
import type { Batch } from './batch.js';
import type { Clock } from './clock.js';
import type { RunCounters } from './counters.js';
import { RunFailure, formatPosition, messageOf, type RunControl } from './failure.js';
import type { RuntimeStep } from './steps.js';

/**
 * Where a record that failed for good goes: the run fails, the record is skipped, or it becomes a
 * dead letter of its batch (written when the batch commits) — as its step's `onError` says; and
 * the error budget (`errors.maxFailed`) that fails the run when too many records failed.
 */
export class FailureRouter {
  constructor(
    private readonly plan: JobPlan,
    private readonly control: RunControl,
    private readonly counters: RunCounters,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly redact: (text: string) => string,
  ) {}

  recordFailed(
    step: RuntimeStep<unknown>,
    batch: Batch,
    error: unknown,
    attempts: number,
    position: RecordPosition,
    record?: SluiceRecord,
    raw?: string,
    /**
     * False when another sink already failed this record (fan-out): the failure still gets its
     * dead letter and the step's count, but the record leaves the job through one door only.
     */
    countRecord = true,
  ): void {
    const message = this.redact(messageOf(error));
    const plan = step.plan;
    this.counters.addStep(batch, step, 'failed', 1);
    // A position can hold a secret (a file path from ${env:}): it is redacted like the message.
    const text = JSON.stringify(position);
    const redacted = this.redact(text);
    if (redacted !== text) position = JSON.parse(redacted) as RecordPosition;
    if (plan.onError === 'fail') {
      this.control.fail(new RunFailure(`step '${plan.id}' failed at ${formatPosition(position)}: ${message}`, { cause: error }));
      return;
    }
    if (plan.onError === 'skip') {
      if (countRecord) this.counters.add(batch, 'skipped', 1);
      this.bus.emit({ type: 'skip', step: plan.id, error: message, position });
    } else {
      if (countRecord) this.counters.add(batch, 'deadLettered', 1);
      batch.dead.push({
        job: this.plan.name,
        step: plan.id,
        kind: plan.kind,
        stepIndex: step.index,
        error: message,
        attempts,
        position,
        batch: batch.seq,
        at: new Date(this.clock.now()).toISOString(),
        ...(record !== undefined ? { record } : {}),
        // Another sink refused this record first and counted it: a replay sends them back together.
        ...(countRecord ? {} : { counted: false as const }),
        ...(raw !== undefined ? { raw: raw.length > 10_000 ? `${raw.slice(0, 10_000)}…` : raw } : {}),
      });
      this.bus.emit({ type: 'deadLetter', step: plan.id, error: message, position });
    }
    const budget = this.plan.maxFailed;
    if (budget && 'count' in budget) {
      const failed = this.counters.failed;
      if (failed > budget.count) {
        this.control.fail(new RunFailure(`error budget spent: ${failed} records failed (errors.maxFailed: ${budget.count}); last: ${message}`));
      }
    }
  }

  /** The `errors.maxFailed: N%` budget; judged from 100 records read on, and at the end whatever was read. */
  checkPercentBudget(final: boolean): void {
    const budget = this.plan.maxFailed;
    if (!budget || !('percent' in budget) || this.control.failure) return;
    const read = this.counters.live.read;
    if (read === 0 || (!final && read < 100)) return;
    const failed = this.counters.failed;
    if ((failed / read) * 100 > budget.percent) {
      this.control.fail(
        new RunFailure(
          `error budget spent: ${failed} of ${read} records failed (${((failed / read) * 100).toFixed(1)}% > errors.maxFailed: ${budget.percent}%)`,
        ),
      );
    }
  }
}
