import { usage } from '../args.js';
import { CheckpointMismatchError, replayDeadLetters, RunFailure } from '@sluice/core/internal';
import { parse, UsageError } from '../args.js';
import { builtInCheckpointStores } from '../builtins.js';
import { loadForRun, shortPath } from '../job.js';
import { summaryText } from '../render/format.js';

const USAGE = `usage: sluice replay JOB.yaml [--dead-letter FILE]

Sends dead-lettered records back through the job, each from the step where it failed, and
appends what succeeds to the sinks' output. The dead-letter file keeps only what failed again.
exit codes: 0 replayed · 1 failed · 2 invalid job or usage`;

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
      process.stdout.write(`${plan.name}: nothing to replay in ${file}${result.remaining ? ` (${result.remaining} entries are unparseable source records)` : ''}\n`);
      return 0;
    }
    process.stdout.write(`${summaryText({ ...result.summary, counters: result.summary.thisRun, deadLetterPath: undefined })}\n`);
    process.stdout.write(`replayed ${result.replayed}; ${result.remaining} entr${result.remaining === 1 ? 'y remains' : 'ies remain'} in ${file}\n`);
    return result.summary.status === 'done' ? 0 : 1;
  } catch (error) {
    if (error instanceof CheckpointMismatchError) {
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
