import { availableParallelism } from 'node:os';
import { CheckpointLockedError, CheckpointMismatchError, JobRun, messageOf, Redactor, type JobPlan, type RunSummary } from '@sluice/core/internal';
import { StartupRefusal } from '@sluice/core';
import { oneOf, parse, UsageError } from '../args.js';
import { ENV_FILE_USAGE, readEnvFiles } from '../envfile.js';
import { loadForRun, shortPath } from '../job.js';
import { summaryText } from '../render/format.js';
import { dryRunNotes } from '../render/dry-run.js';
import { runInfoOf } from '../render/info.js';
import { reportOf } from '../render/report.js';
import { RunWatch } from '../render/watch.js';
import { isTerminal, RunSession, type ProgressMode } from '../session.js';
import { ThreadStarter } from '../threads/start.js';
import { METRICS_PUSH_USAGE, METRICS_USAGE, observeFlags, Observability, refusedSummary } from '../metrics/observe.js';

const USAGE = `usage: sluice run JOB.yaml [options]

  --fresh                 forget the checkpoint and start over (sinks start empty)
  --resend                with --fresh: also forget which mails were sent (email sinks mail everyone again)
  --dry-run               read and transform, write nothing, save no checkpoint
  --limit N               stop after N records (no checkpoint is saved)
  --set PATH=VALUE        override a job value, e.g. --set batch.size=100 (repeatable)
  --report FILE           write the run summary as JSON (schema: report.schema.json)
${ENV_FILE_USAGE}
  --progress MODE         auto | tui | plain | json | none (default auto: the screen on a
                          terminal, plain lines otherwise)
  --verbose               show error causes and stacks
${METRICS_USAGE}
${METRICS_PUSH_USAGE}
  --threads N             run the source's partitions on N threads of this process (the main
                          thread and N - 1 workers; auto: one per core; default 1); file outputs
                          are written per partition and joined in order at the end; a source
                          that cannot split runs on one thread

distributed runs (see sluice worker --help):
  --workers URL           run on the workers of this Redis queue (redis://host:6379) instead of
                          here: the source is split into partitions, one per BullMQ job; started
                          again for the same job, it resumes the same partitions
  --partitions N          how many partitions to split the source into (default 8)
  --prefix P              key prefix of the queue and the run state (default sluice)
  --queue-key-file FILE   the queue key the partitions are signed with (else SLUICE_QUEUE_KEY);
                          the workers must hold the same key
  --insecure-queue        send unsigned partitions (only to workers started with --insecure-queue)
  --redis-ca FILE         the CA certificate (PEM) of a rediss:// server

exit codes: 0 done · 1 job failed · 2 invalid job or usage · 130 interrupted, checkpoint saved`;

const RUN_OPTIONS = {
  fresh: { type: 'boolean' },
  resend: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  limit: { type: 'string' },
  set: { type: 'string', multiple: true },
  report: { type: 'string' },
  'env-file': { type: 'string', multiple: true },
  progress: { type: 'string' },
  verbose: { type: 'boolean' },
  threads: { type: 'string' },
  workers: { type: 'string' },
  partitions: { type: 'string' },
  prefix: { type: 'string' },
  'queue-key-file': { type: 'string' },
  'insecure-queue': { type: 'boolean' },
  'redis-ca': { type: 'string' },
  metrics: { type: 'string' },
  'metrics-push': { type: 'string' },
} as const;

type RunValues = ReturnType<typeof parse<typeof RUN_OPTIONS>>['values'];

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, RUN_OPTIONS, USAGE);
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
  const distributed = distributedOptions(values, USAGE);
  const threads = threadsOption(values, distributed !== undefined, USAGE);
  const trust = distributed ? await queueTrustOf(values, USAGE) : undefined;
  const flags = observeFlags(values, USAGE);

  const envFiles = values['env-file'] ? readEnvFiles(values['env-file'], USAGE) : undefined;
  // --threads: the worker threads load the job beside this thread, not after it has (see threads/start.ts).
  const starter = threads > 1 ? new ThreadStarter({ file: positionals[0]!, sets: values.set ?? [], ...(envFiles ? { envFiles } : {}) }, threads - 1) : undefined;
  try {
    const plan = await loadForRun(positionals[0]!, values.set ?? [], envFiles);
    if (!plan) return 2;
    // Traces follow the OTEL_* variables; metrics the flags. Pushed and flushed however the run ends.
    const observe = await Observability.open(flags, (line) => process.stderr.write(`${line}\n`));
    observe.expected = new Redactor(plan.secrets).redact(plan.name);
    try {
      return await runLoaded(plan, values, positionals[0]!, { mode, limit, distributed, threads, trust, envFiles, observe, starter });
    } finally {
      await observe.finish();
    }
  } finally {
    starter?.dispose();
  }
}

async function runLoaded(
  plan: JobPlan,
  values: RunValues,
  file: string,
  o: {
    mode: ProgressMode;
    limit: number | undefined;
    distributed: ReturnType<typeof distributedOptions>;
    threads: number;
    trust: Awaited<ReturnType<typeof queueTrustOf>> | undefined;
    envFiles: Record<string, string> | undefined;
    observe: Observability;
    starter: ThreadStarter | undefined;
  },
): Promise<number> {
  const { mode, limit, distributed, threads, trust, envFiles, observe, starter } = o;
  if (distributed) {
    const { runCoordinator } = await import('../distributed/coordinator.js');
    return runCoordinator({
      ...distributed,
      file,
      plan,
      fresh: values.fresh ?? false,
      sets: values.set ?? [],
      ...(values.report ? { report: values.report } : {}),
      mode,
      observe,
      verbose: values.verbose ?? false,
      isTerminal,
      trust: trust!,
      ...(values['redis-ca'] !== undefined ? { ca: values['redis-ca'] } : {}),
    });
  }

  if (threads > 1) {
    const { runThreads } = await import('../threads/run.js');
    const code = await runThreads({
      file,
      plan,
      threads,
      observe,
      sets: values.set ?? [],
      ...(envFiles ? { envFiles } : {}),
      fresh: values.fresh ?? false,
      ...(values.report ? { report: values.report } : {}),
      mode,
      ...(starter ? { starter } : {}),
    });
    if (code !== undefined) return code;
  }

  const stop = new AbortController();
  const options = { fresh: values.fresh, resend: values.resend, dryRun: values['dry-run'], limit, signal: stop.signal };
  const jobRun = new JobRun(plan, options);
  const info = runInfoOf(plan, { dryRun: values['dry-run'], limit });
  const watch = new RunWatch(jobRun.bus, () => jobRun.progress(), info);
  const observed = await observe.watchRun({ plan, bus: jobRun.bus, progress: () => jobRun.progress(), redact: info.redact });
  const notes = values['dry-run'] ? dryRunNotes(jobRun.bus) : undefined;
  const session = await RunSession.open({
    mode,
    watch,
    stop: (reason) => stop.abort(new Error(reason)),
    onHardExit: 'the last saved checkpoint stands',
  });

  const startedAt = Date.now();
  let summary: RunSummary;
  try {
    summary = await jobRun.run();
  } catch (error) {
    observed(refusedSummary(plan.name, info.redact(messageOf(error))));
    if (error instanceof CheckpointMismatchError || error instanceof StartupRefusal || error instanceof CheckpointLockedError) {
      return session.refuse(`sluice run: ${info.redact(error.message)}`);
    }
    await session.abandon();
    throw error;
  }

  observed(summary);
  const report = reportOf(summary, {
    file,
    startedAt,
    checkpoint: info.checkpointing ? info.checkpoint : null,
    ...(summary.deadLetterPath ? { deadLetterPath: shortPath(summary.deadLetterPath) } : {}),
    redact: info.redact,
  });
  const text = summaryText(
    { ...summary, ...(summary.deadLetterPath ? { deadLetterPath: shortPath(summary.deadLetterPath) } : {}) },
    { checkpoint: info.checkpoint, ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}) },
  );
  const said = notes && session.effective !== 'json' ? notes().map((line) => `${line}\n`).join('') : '';
  const code = await session.finish({ summary, report, text: info.redact(said + text), ...(values.report ? { reportFile: values.report } : {}) });
  const stats = values.verbose ? session.screenStats() : undefined;
  if (stats) {
    const share = (ms: number) => `${((ms / Math.max(1, summary.durationMs)) * 100).toFixed(1)}%`;
    process.stderr.write(`screen: ${stats.repaints} repaints; snapshots ${Math.round(stats.mainMs)}ms (${share(stats.mainMs)} of the run's thread), drawing ${Math.round(stats.drawingMs)}ms in its own thread\n`);
  }
  if (values.verbose && jobRun.failure) {
    // The cause chain, for bug reports; secrets are redacted from the messages but a stack may show paths.
    let cause: unknown = jobRun.failure.cause;
    while (cause instanceof Error) {
      process.stderr.write(`caused by: ${info.redact(cause.stack ?? cause.message)}\n`);
      cause = cause.cause;
    }
  }
  // Another run took the job's lock while this one lost it (the sql store's lock session ended):
  // like a run refused at start for a held lock, exit 2.
  return lockLost(jobRun.failure) ? 2 : code;
}

function lockLost(failure: Error | undefined): boolean {
  for (let cause: unknown = failure?.cause; cause instanceof Error; cause = cause.cause) if (cause instanceof CheckpointLockedError) return true;
  return false;
}

/** `--threads N|auto` (default 1); not with --workers, --dry-run, --limit or --resend. */
function threadsOption(values: { threads?: string; 'dry-run'?: boolean; limit?: string; resend?: boolean }, distributed: boolean, usage: string): number {
  if (values.threads === undefined) return 1;
  const threads = values.threads === 'auto' ? availableParallelism() : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new UsageError(`--threads must be a whole number from 1 to 256, or auto (got '${values.threads}')`, usage);
  if (threads > 1) {
    const clash = distributed ? '--workers' : values['dry-run'] ? '--dry-run' : values.limit !== undefined ? '--limit' : values.resend ? '--resend' : undefined;
    if (clash) throw new UsageError(`--threads cannot be used with ${clash}`, usage);
  }
  return threads;
}

/** `--workers`, `--partitions`, `--prefix`: checked before the job loads (usage errors exit 2). */
function distributedOptions(
  values: {
    workers?: string;
    partitions?: string;
    prefix?: string;
    'dry-run'?: boolean;
    limit?: string;
    resend?: boolean;
    'queue-key-file'?: string;
    'insecure-queue'?: boolean;
    'redis-ca'?: string;
  },
  usage: string,
): { url: string; partitions?: number; prefix: string } | undefined {
  if (values.workers === undefined) {
    const alone = (['partitions', 'prefix', 'queue-key-file', 'insecure-queue', 'redis-ca'] as const).find((name) => values[name] !== undefined);
    if (alone) throw new UsageError(`--${alone} only goes with --workers`, usage);
    return undefined;
  }
  if (values['dry-run'] || values.limit !== undefined) throw new UsageError(`${values['dry-run'] ? '--dry-run' : '--limit'} cannot be used with --workers; try it on a local run first`, usage);
  if (values.resend) throw new UsageError('--resend cannot be used with --workers', usage);
  if (!/^rediss?:\/\//.test(values.workers)) throw new UsageError('--workers must be a Redis URL: redis://[user:password@]host:6379[/db]', usage);
  let partitions: number | undefined;
  if (values.partitions !== undefined) {
    partitions = Number(values.partitions);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) throw new UsageError(`--partitions must be a whole number from 1 to 1000 (got '${values.partitions}')`, usage);
  }
  const prefix = values.prefix ?? 'sluice';
  if (!prefix || /[\s*?]/.test(prefix)) throw new UsageError(`--prefix must be a non-empty word without spaces or wildcards (got '${prefix}')`, usage);
  return { url: values.workers, ...(partitions !== undefined ? { partitions } : {}), prefix };
}

/** The queue key of a coordinator (`--queue-key-file`, `SLUICE_QUEUE_KEY`) or its opt-out; a usage error without either. */
async function queueTrustOf(values: { 'queue-key-file'?: string; 'insecure-queue'?: boolean }, usage: string) {
  const { queueTrust, QueueKeyError } = await import('../distributed/trust.js');
  try {
    return await queueTrust({ ...(values['queue-key-file'] !== undefined ? { keyFile: values['queue-key-file'] } : {}), insecure: values['insecure-queue'] ?? false });
  } catch (error) {
    if (error instanceof QueueKeyError) throw new UsageError(error.message, usage);
    throw error;
  }
}
