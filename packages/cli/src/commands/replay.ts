import { CheckpointLockedError, replayDeadLetters, ReplayRefusedError, RunFailure, type ReplayResult } from '@sluice/core/internal';
import { StartupRefusal } from '@sluice/core';
import { parse, usage, UsageError } from '../args.js';
import { builtInCheckpointStores } from '../builtins.js';
import { loadForRun, shortPath } from '../job.js';
import { summaryText } from '../render/format.js';

const USAGE = `usage: sluice replay JOB.yaml [--dead-letter FILE]

Sends dead-lettered records back through the job as it is now, each from the step (by id) where
it failed, and appends what goes through to the sinks' output, exactly once. The dead-letter file
keeps only what failed again, and the input that never became a record. Fix the step, then replay.
exit codes: 0 replayed · 1 failed · 2 invalid job, usage, or dead letters of a step the job lacks`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { 'dead-letter': { type: 'string' } }, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length !== 1) throw new UsageError('name one job file', USAGE);
  const plan = await loadForRun(positionals[0]!);
  if (!plan) return 2;
  try {
    const result = await replayDeadLetters(plan, { deadLetterFile: values['dead-letter'], checkpointStores: builtInCheckpointStores() });
    const file = shortPath(result.deadLetterFile);
    if (result.replayed === 0 && result.summary.status === 'done') {
      const kept = result.unreplayable ? ` (${result.unreplayable} entr${result.unreplayable === 1 ? 'y is input' : 'ies are input'} that never became a record)` : '';
      process.stdout.write(`${plan.name}: nothing to replay in ${file}${kept}\n`);
      return 0;
    }
    process.stdout.write(`${summaryText({ ...result.summary, counters: result.summary.thisRun, deadLetterPath: undefined })}\n`);
    process.stdout.write(`${replayLine(result, file)}\n`);
    return result.summary.status === 'done' ? 0 : 1;
  } catch (error) {
    if (error instanceof ReplayRefusedError || error instanceof CheckpointLockedError || error instanceof StartupRefusal) {
      process.stderr.write(`sluice replay: ${error.message}\n`);
      return 2;
    }
    if (error instanceof RunFailure) {
      process.stderr.write(`sluice replay: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
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
