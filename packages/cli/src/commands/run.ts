import { writeFile } from 'node:fs/promises';
import { CheckpointMismatchError, JobRun, type RunSummary } from '@sluice/core/internal';
import { oneOf, parse, UsageError } from '../args.js';
import { builtInCheckpointStores } from '../builtins.js';
import { loadForRun, shortPath } from '../job.js';
import { summaryText } from '../render/format.js';
import { jsonRenderer } from '../render/json.js';
import { plainRenderer, type Renderer } from '../render/plain.js';

const USAGE = `usage: sluice run JOB.yaml [options]

  --fresh                 forget the checkpoint and start over (sinks start empty)
  --resend                with --fresh: also forget which mails were sent (email sinks mail everyone again)
  --dry-run               read and transform, write nothing, save no checkpoint
  --limit N               stop after N records (no checkpoint is saved)
  --set PATH=VALUE        override a job value, e.g. --set batch.size=100 (repeatable)
  --report FILE           write the run summary as JSON
  --progress MODE         auto | tui | plain | json | none (default auto)
  --verbose               show error causes and stacks

exit codes: 0 done · 1 job failed · 2 invalid job or usage · 130 interrupted, checkpoint saved`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(
    argv,
    {
      fresh: { type: 'boolean' },
      resend: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      limit: { type: 'string' },
      set: { type: 'string', multiple: true },
      report: { type: 'string' },
      progress: { type: 'string' },
      verbose: { type: 'boolean' },
    },
    USAGE,
  );
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'run takes one job file' : 'missing job file', USAGE);
  const mode = oneOf(values.progress, ['auto', 'tui', 'plain', 'json', 'none'] as const, '--progress', USAGE) ?? 'auto';
  let limit: number | undefined;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit must be a whole number (got '${values.limit}')`, USAGE);
  }

  if (values.resend && !values.fresh) throw new UsageError('--resend only goes with --fresh', USAGE);

  const plan = await loadForRun(positionals[0]!, values.set ?? []);
  if (!plan) return 2;

  const stop = new AbortController();
  const jobRun = new JobRun(plan, { checkpointStores: builtInCheckpointStores(), fresh: values.fresh, resend: values.resend, dryRun: values['dry-run'], limit, signal: stop.signal });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) stop.abort(new Error(`interrupted by ${signal}`));
    else {
      process.stderr.write(`\nsluice: ${signal} again: exiting now; the last saved checkpoint stands\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // The Ink screen comes with its own package; until then a terminal gets plain lines too.
  const effective = mode === 'auto' || mode === 'tui' ? 'plain' : mode;
  let renderer: Renderer | undefined;
  if (effective === 'plain') renderer = plainRenderer(jobRun.bus, () => jobRun.progress(), process.stderr);
  else if (effective === 'json') renderer = jsonRenderer(jobRun.bus, () => jobRun.progress(), process.stdout);

  let summary: RunSummary;
  try {
    summary = await jobRun.run();
  } catch (error) {
    renderer?.stop();
    if (error instanceof CheckpointMismatchError) {
      process.stderr.write(`sluice run: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  renderer?.stop();

  if (effective !== 'json') {
    const text = summaryText({ ...summary, ...(summary.deadLetterPath ? { deadLetterPath: shortPath(summary.deadLetterPath) } : {}) }, { checkpoint: plan.checkpoint.store === 'file' ? shortPath(`${plan.checkpoint.path}/${plan.name}.json`) : plan.checkpoint.store });
    (summary.status === 'done' ? process.stdout : process.stderr).write(`${text}\n`);
  }
  if (values.verbose && jobRun.failure) {
    // The cause chain, for bug reports; secrets are redacted from the messages but a stack may show paths.
    let cause: unknown = jobRun.failure.cause;
    while (cause instanceof Error) {
      process.stderr.write(`caused by: ${plan.secrets.reduce((t, s) => (s.length >= 3 ? t.split(s).join('***') : t), cause.stack ?? cause.message)}\n`);
      cause = cause.cause;
    }
  }
  if (values.report) {
    await writeFile(values.report, `${JSON.stringify({ version: 1, ...summary }, null, 2)}\n`);
  }
  return summary.status === 'done' ? 0 : summary.status === 'interrupted' ? 130 : 1;
}
