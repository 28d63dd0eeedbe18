import { CheckpointLockedError, EventBus, replayDeadLetters, ReplayRefusedError, RunFailure, type JobRun, type ReplayResult } from '@sluice/core/internal';
import { StartupRefusal } from '@sluice/core';
import { oneOf, parse, usage, UsageError } from '../args.js';
import { loadForRun, shortPath } from '../job.js';
import { duration, summaryText } from '../render/format.js';
import { runInfoOf } from '../render/info.js';
import { reportOf } from '../render/report.js';
import { RunWatch } from '../render/watch.js';
import { RunSession } from '../session.js';

const USAGE = `usage: sluice replay JOB.yaml [--dead-letter FILE] [--progress MODE]

Sends dead-lettered records back through the job as it is now, each from the step (by id) where
it failed, and appends what goes through to the sinks' output, exactly once. The dead-letter file
keeps only what failed again, and the input that never became a record. Fix the step, then replay.

  --dead-letter FILE      the file to replay (default: the job's own dead-letter file)
  --progress MODE         none (default: the summary only) | plain | json (NDJSON events on
                          stdout, as sluice run prints them; the checkpoint event is the replay's
                          commit)

exit codes: 0 replayed · 1 failed · 2 invalid job, usage, or dead letters of a step the job lacks
· 130 interrupted (nothing committed: replay again to finish)`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { 'dead-letter': { type: 'string' }, progress: { type: 'string' } }, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const mode = oneOf(values.progress, ['none', 'plain', 'json'] as const, '--progress', USAGE) ?? 'none';
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;

  const bus = new EventBus();
  let current: JobRun | undefined;
  const info = runInfoOf(plan);
  const watch = new RunWatch(bus, () => current?.progress(), info);
  const stop = new AbortController();
  const session = await RunSession.open({
    mode,
    watch,
    stop: (reason) => stop.abort(new Error(reason)),
    onHardExit: 'nothing of this replay is committed; run sluice replay again to finish it',
  });
  const startedAt = Date.now();
  let result: ReplayResult;
  try {
    result = await replayDeadLetters(plan, {
      deadLetterFile: values['dead-letter'],
      bus,
      signal: stop.signal,
      started: (run) => (current = run),
    });
  } catch (error) {
    if (error instanceof ReplayRefusedError || error instanceof CheckpointLockedError || error instanceof StartupRefusal) {
      return session.refuse(`sluice replay: ${info.redact(error.message)}`);
    }
    await session.abandon();
    if (error instanceof RunFailure) {
      process.stderr.write(`sluice replay: ${info.redact(error.message)}\n`);
      return 1;
    }
    throw error;
  }
  const file = shortPath(result.deadLetterFile);
  // The replay's own counts: the job's totals are in the checkpoint (sluice status).
  const summary = { ...result.summary, counters: result.summary.thisRun, deadLetterPath: undefined };
  let text: string;
  if (result.replayed === 0 && result.summary.status === 'done') {
    const kept = result.unreplayable ? ` (${result.unreplayable} entr${result.unreplayable === 1 ? 'y is input' : 'ies are input'} that never became a record)` : '';
    text = `${plan.name}: nothing to replay in ${file}${kept}`;
  } else {
    const lines = summaryText(summary).split('\n');
    // A replay stopped early saves no checkpoint: its head line must not promise one.
    if (summary.status === 'interrupted') lines[0] = `${plan.name}: interrupted after ${duration(summary.durationMs)}`;
    text = `${lines.join('\n')}\n${replayLine(result, file)}`;
  }
  const report = reportOf(summary, { file: positionals[0]!, startedAt, checkpoint: info.checkpoint, redact: info.redact });
  return session.finish({ summary, report, text: info.redact(text) });
}

/** `replayed 4: 3 went through, 1 failed again; 2 entries left in FILE (1 never became a record)`. */
export function replayLine(result: ReplayResult, file: string): string {
  const entries = (n: number) => `${n} entr${n === 1 ? 'y' : 'ies'}`;
  if (result.summary.status !== 'done') {
    // Its sinks may hold part of it: only the same replay, redone, may write to them next.
    return `replay ${result.summary.status}: the checkpoint and ${file} are as they were (${entries(result.remaining)}); run sluice replay again to finish it (sluice run refuses until then)`;
  }
  const through = result.replayed - result.failedAgain;
  const never = result.unreplayable ? ` (${result.unreplayable} never became a record)` : '';
  return `replayed ${result.replayed}: ${through} went through, ${result.failedAgain} failed again; ${entries(result.remaining)} left in ${file}${never}`;
}
