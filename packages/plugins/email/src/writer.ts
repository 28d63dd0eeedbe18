import {
  PermanentError,
  RecordError,
  TransientError,
  type Ledger,
  type PluginContext,
  type SinkInstance,
  type SluiceRecord,
  type WriteInfo,
  type WriteResult,
} from '@sluice/core';
import { shown } from './address.js';
import type { MessageBuilder, PreparedMessage } from './message.js';
import { classify, type Delivery, type MailTransport } from './transport.js';

/** Tries of one message within one write; what still fails goes back to the engine's retry of the batch. */
export const TRIES_PER_WRITE = 3;
const RETRY_DELAY_MS = 250;
const RETRY_MAX_DELAY_MS = 5_000;

type Outcome =
  | { readonly kind: 'sent' | 'skipped' | 'fatal' }
  | { readonly kind: 'rejected'; readonly error: Error }
  | { readonly kind: 'transient'; readonly error: Error };

/** How one message went, and the recording of its key (what the slot's next message waits for). */
interface Sent {
  readonly outcome: Outcome;
  /** Resolves once the key is durable in the ledger; rejects if it could not be recorded. */
  readonly recorded: Promise<void>;
}

const settled = Promise.resolve();

/**
 * Writes a batch as mails, in `concurrency` slots. At most once per key:
 *
 * - a key already in the ledger is skipped (counted as written);
 * - after the server's 250 the key is added to the ledger; the slot's next message may be prepared
 *   and streamed meanwhile, but its end-of-data dot is held back until that add is durable — so
 *   each slot has at most one message the server may have accepted that is not yet recorded, and
 *   a crash can resend at most `concurrency` messages, with the same Message-ID;
 * - a key still in flight (from an attempt the engine timed out, or a repeat within the batch) is
 *   waited for, then looked up again, never sent twice at once.
 *
 * Temporary failures (4xx, 503, dropped connections) are retried here a few times; what still fails
 * makes the write throw a TransientError after every other message of the batch has settled, and the
 * engine retries the batch by the step's `retry` policy — resending only the keys not yet recorded.
 * On the step's last attempt the write refuses just the unsent records instead, so the messages
 * that did go out count as written and only the others follow `onError`.
 * A 5xx to the message is permanent: that record is rejected with the server's reply.
 */
export class EmailWriter implements SinkInstance {
  /** Keys being sent or recorded; settles once the key is recorded or has failed. */
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Keys the server refused for good in the batch being written: a retry of it does not ask again. */
  private refused = { seq: -1, keys: new Map<string, Error>() };
  private fatal: PermanentError | undefined;
  private readonly counts = { sent: 0, skipped: 0, failed: 0, retried: 0 };
  private shownDryRun = 0;
  /** A dry run has no ledger: it still renders each key once. */
  private readonly dryRunKeys = new Set<string>();

  constructor(
    private readonly ctx: PluginContext,
    private readonly messages: MessageBuilder,
    private readonly transport: MailTransport,
    /** Undefined in a dry run: nothing is looked up or recorded. */
    private readonly ledger: Ledger | undefined,
  ) {}

  async write(records: SluiceRecord[], info: WriteInfo): Promise<WriteResult> {
    if (this.fatal) throw this.fatal;
    // An attempt the engine gave up on (timeout) may still have messages in flight: let them
    // settle first, so no more than `concurrency` messages are ever in flight or unrecorded.
    if (this.inflight.size > 0) await Promise.allSettled([...this.inflight.values()]);
    if (this.fatal) throw this.fatal;
    if (this.refused.seq !== info.seq) this.refused = { seq: info.seq, keys: new Map() };
    const rejected: Array<{ index: number; error: Error }> = [];
    const transient: Array<{ index: number; error: Error }> = [];
    let next = 0;
    const slot = async () => {
      let previous = settled;
      while (next < records.length && !info.signal.aborted && !this.fatal) {
        const index = next++;
        const { outcome, recorded } = await this.deliver(records[index]!, info.signal, previous);
        previous = recorded;
        if (outcome.kind === 'rejected') rejected.push({ index, error: outcome.error });
        else if (outcome.kind === 'transient') transient.push({ index, error: outcome.error });
      }
      // The batch is written when every key sent is recorded.
      await previous.catch(() => undefined);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.ctx.step.concurrency, records.length)) }, slot));
    if (this.fatal) throw this.fatal;
    const unsent = transient.length + (records.length - next);
    const lastAttempt = this.ctx.step.retry !== undefined && info.attempt >= this.ctx.step.retry.attempts;
    if (unsent > 0 && lastAttempt && next === records.length && !info.signal.aborted) {
      // The engine will not try this batch again: refuse only what was not sent, so the messages
      // that were sent (and recorded) count as written, not as dead letters.
      for (const { index, error } of transient) rejected.push({ index, error: new RecordError(`email: not sent after ${info.attempt} attempts: ${error.message}`, undefined, { cause: error }) });
    } else if (unsent > 0) {
      const why = transient[0]?.error.message ?? `stopped: ${String((info.signal.reason as Error | undefined)?.message ?? 'aborted')}`;
      throw new TransientError(
        `email: ${unsent} message(s) of this batch not sent yet (${why}); the ones sent are recorded and will not be sent again`,
      );
    }
    rejected.sort((a, b) => a.index - b.index);
    return rejected.length ? { rejected } : {};
  }

  /** One record: skip a key already mailed, wait for the same key in flight, else send it. */
  private async deliver(record: SluiceRecord, signal: AbortSignal, previous: Promise<void>): Promise<Sent> {
    let key: string;
    try {
      key = this.messages.keyOf(record);
    } catch (error) {
      this.counts.failed++;
      return { outcome: { kind: 'rejected', error: error as Error }, recorded: previous };
    }
    for (let pending = this.inflight.get(key); pending; pending = this.inflight.get(key)) await pending;
    if (this.ledger ? this.ledger.has(key) : this.dryRunKeys.has(key)) {
      this.counts.skipped++;
      return { outcome: { kind: 'skipped' }, recorded: previous };
    }
    const refused = this.refused.keys.get(key);
    if (refused) return { outcome: { kind: 'rejected', error: refused }, recorded: previous };
    // No await between the lookups above and this: the key is claimed atomically.
    const sending = this.send(key, record, signal, previous);
    const done = sending.then((s) => (s.outcome.kind === 'sent' ? s.recorded : undefined)).catch(() => undefined);
    this.inflight.set(key, done);
    void done.then(() => {
      if (this.inflight.get(key) === done) this.inflight.delete(key);
    });
    return sending;
  }

  private async send(key: string, record: SluiceRecord, signal: AbortSignal, previous: Promise<void>): Promise<Sent> {
    const unsent = (outcome: Outcome): Sent => ({ outcome, recorded: previous });
    let message: PreparedMessage;
    try {
      message = await this.messages.build(key, record);
    } catch (error) {
      this.counts.failed++;
      return unsent({ kind: 'rejected', error: error instanceof RecordError ? error : new RecordError(`email: ${(error as Error).message}`, undefined, { cause: error }) });
    }
    for (let attempt = 1; ; attempt++) {
      let delivery: Delivery;
      try {
        // One token of the step's rateLimit per message sent (providers cap messages per second).
        await this.ctx.throttle.take(signal);
        delivery = await this.transport.send(message.mail, message.fileName, previous);
      } catch (error) {
        if (this.fatal) return unsent({ kind: 'fatal' });
        if (signal.aborted) return unsent({ kind: 'transient', error: new TransientError(`stopped before sending: ${(error as Error).message}`) });
        const failure = classify(error);
        if (failure.kind === 'rejected') {
          this.counts.failed++;
          const refused = new RecordError(`email: the server refused the message: ${this.ctx.redact(failure.message)}`, { key });
          this.refused.keys.set(key, refused);
          return unsent({ kind: 'rejected', error: refused });
        }
        if (failure.kind === 'fatal') {
          this.fatal ??= new PermanentError(`email: cannot send: ${this.ctx.redact(failure.message)}`, { cause: error });
          return unsent({ kind: 'fatal' });
        }
        const transient = new TransientError(this.ctx.redact(failure.message), { cause: error });
        if (attempt >= TRIES_PER_WRITE) return unsent({ kind: 'transient', error: transient });
        const delay = Math.floor(Math.min(RETRY_MAX_DELAY_MS, RETRY_DELAY_MS * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2));
        // 421: the server is closing the channel (busy, or a per-connection limit): slow the whole step.
        if (failure.responseCode === 421) this.ctx.throttle.pauseFor(delay);
        this.counts.retried++;
        this.ctx.countRetry({ attempt: attempt + 1, delayMs: delay, error: transient });
        try {
          await this.ctx.clock.sleep(delay, signal);
        } catch {
          return unsent({ kind: 'transient', error: transient });
        }
        continue;
      }
      return { outcome: { kind: 'sent' }, recorded: this.record(key, message, delivery) };
    }
  }

  /** After the server's 250: record the key. Resolves once it is durable. */
  private record(key: string, message: PreparedMessage, delivery: Delivery): Promise<void> {
    this.counts.sent++;
    if (delivery.rejected.length > 0) {
      this.ctx.logger.warn(`email: sent, but the server refused ${delivery.rejected.length} of its recipients`, { key, refused: delivery.rejected.length });
    }
    if (!this.ledger) {
      this.dryRunKeys.add(key);
      if (this.shownDryRun++ < 3) {
        this.ctx.logger.info(`email (dry run): would send ${shown(String(message.mail.subject), 80)} as ${message.mail.messageId}`, { key });
      }
      return settled;
    }
    const recorded = this.ledger.add(key);
    recorded.catch((error: unknown) => {
      this.fatal ??= new PermanentError(
        `email: a message was sent but its key could not be recorded (${(error as Error).message}); stopping so that no key is mailed twice`,
        { cause: error },
      );
    });
    return recorded;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()]);
    await this.transport.close();
    const { sent, skipped, failed, retried } = this.counts;
    if (sent + skipped + failed === 0) return;
    if (!this.ledger) {
      this.ctx.logger.info(`email (dry run): ${sent} messages rendered, nothing sent or recorded; ${failed} failed`, { ...this.counts });
      return;
    }
    const line = `email: ${sent} sent, ${skipped} skipped (already sent: their keys are in the ledger), ${failed} failed, ${retried} retried`;
    // Skipped keys are worth a warning: whoever reruns a job to mail people again needs --resend.
    if (skipped > 0) this.ctx.logger.warn(`${line}; to mail them again, run with --fresh --resend`, { ...this.counts });
    else this.ctx.logger.info(line, { ...this.counts });
  }
}
