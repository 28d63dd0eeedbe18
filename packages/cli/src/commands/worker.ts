import { hostname } from 'node:os';
import { parseDuration } from '@sluice/core/internal';
import { oneOf, parse, UsageError } from '../args.js';
import { DEFAULT_PREFIX } from '../distributed/keys.js';
import { ENV_FILE_USAGE, readEnvFiles } from '../envfile.js';
import { METRICS_USAGE, observeFlags, Observability } from '../metrics/observe.js';

const USAGE = `usage: sluice worker --queue redis://host:6379 [options]

Takes partitions of distributed runs (sluice run JOB.yaml --workers URL) from the queue and runs
them. Start it from the same project checkout as the coordinator: the job file's relative paths
(its data, plugins and the job itself) resolve from this worker's working directory, and
\${env:…} values come from this worker's environment.

  --queue URL             the Redis of the queue (redis://[user:password@]host:6379[/db])
  --concurrency N         partitions run at once (default 1)
  --prefix P              key prefix of the queue and the run state (default ${DEFAULT_PREFIX})
  --lock-timeout DURATION how long a worker that stopped answering keeps its partitions before
                          another worker takes them over (default 30s)
  --name NAME             this worker's name in messages and reports (default host-pid)
  --progress MODE         plain: a line per partition start and end (default) | none
${ENV_FILE_USAGE}
  --queue-key-file FILE   the queue key (else SLUICE_QUEUE_KEY): a partition is run only when
                          the coordinator signed it with the same key
  --insecure-queue        run unsigned partitions (a trusted local setup only: anyone who can
                          write to this Redis then chooses the --set values this worker applies)
  --redis-ca FILE         the CA certificate (PEM) of a rediss:// server
${METRICS_USAGE}

A worker runs only the job file in its own folder at the path the coordinator gives, and only
when that file is the coordinator's (same SHA-256); see "Trust model" in docs/distributed.md.

SIGTERM/SIGINT: running partitions drain, save their checkpoints and go back to the queue for
another worker; exit 0. A second signal exits at once.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(
    argv,
    {
      queue: { type: 'string' },
      concurrency: { type: 'string' },
      prefix: { type: 'string' },
      'lock-timeout': { type: 'string' },
      name: { type: 'string' },
      progress: { type: 'string' },
      'env-file': { type: 'string', multiple: true },
      'queue-key-file': { type: 'string' },
      'insecure-queue': { type: 'boolean' },
      'redis-ca': { type: 'string' },
      metrics: { type: 'string' },
    },
    USAGE,
  );
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length) throw new UsageError(`worker takes no arguments (got '${positionals[0]}')`, USAGE);
  if (!values.queue) throw new UsageError('missing --queue redis://host:6379', USAGE);
  const concurrency = values.concurrency === undefined ? 1 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number of at least 1 (got '${values.concurrency}')`, USAGE);
  const lockTimeoutMs = values['lock-timeout'] === undefined ? 30_000 : parseDuration(values['lock-timeout']);
  if (lockTimeoutMs === undefined || !(lockTimeoutMs >= 1000)) {
    throw new UsageError(`--lock-timeout must be a duration of at least 1s, like 30s or 2m (got '${values['lock-timeout']}')`, USAGE);
  }
  const prefix = values.prefix ?? DEFAULT_PREFIX;
  if (!prefix || /[\s*?]/.test(prefix)) throw new UsageError(`--prefix must be a non-empty word without spaces or wildcards (got '${prefix}')`, USAGE);
  const progress = oneOf(values.progress, ['plain', 'none'] as const, '--progress', USAGE) ?? 'plain';
  const name = values.name ?? `${hostname()}-${process.pid}`;
  if (!/^[\w.@-]+$/.test(name)) throw new UsageError(`--name may hold letters, digits and . _ @ - (got '${name}')`, USAGE);

  const { queueTrust, QueueKeyError } = await import('../distributed/trust.js');
  let trust: Awaited<ReturnType<typeof queueTrust>>;
  try {
    trust = await queueTrust({ ...(values['queue-key-file'] !== undefined ? { keyFile: values['queue-key-file'] } : {}), insecure: values['insecure-queue'] ?? false });
  } catch (error) {
    if (error instanceof QueueKeyError) throw new UsageError(error.message, USAGE);
    throw error;
  }
  const flags = observeFlags(values, USAGE);
  const { runWorker } = await import('../distributed/worker.js');
  const envFiles = values['env-file'] ? readEnvFiles(values['env-file'], USAGE) : undefined;
  const observe = await Observability.open(flags, (line) => process.stderr.write(`${line}\n`), { worker: true });
  try {
    const follow = observe.worker();
    return await runWorker({
      url: values.queue,
      prefix,
      concurrency,
      lockTimeoutMs,
      name,
      progress,
      trust,
      ...(envFiles ? { envFiles } : {}),
      ...(values['redis-ca'] !== undefined ? { ca: values['redis-ca'] } : {}),
      ...(follow ? { observe: follow } : {}),
    });
  } catch (error) {
    // A malformed URL: say so without repeating it (it may hold a password).
    if (error instanceof Error && error.message.startsWith('--queue:')) throw new UsageError(error.message, USAGE);
    throw error;
  } finally {
    await observe.finish();
  }
}
