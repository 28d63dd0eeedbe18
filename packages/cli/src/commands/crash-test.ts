import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redactor, type JobPlan } from '@sluice/core/internal';
import { CRASH_POINTS, CrashTestError, formatCrashReport, readBackSinks, runCrashTest, type ChildExit, type CrashLauncher, type CrashPoint } from '@sluice/core/testing';
import { oneOf, parse, UsageError } from '../args.js';
import { ENV_FILE_USAGE, readEnvFiles } from '../envfile.js';
import { loadForRun } from '../job.js';
import { redirect } from './crash-test-redirect.js';

const USAGE = `usage: sluice crash-test JOB.yaml [options]

Proves that the job resumes correctly: runs it once uninterrupted, then once per fault point in a
child process that kills itself (SIGKILL) exactly there, resumes it to the end, and compares what
every sink holds — and what the source read — with the uninterrupted run.

  --records N             read at most N records in every run (default 1000; whole pages)
  --points P              all (default): every point, one crash each; N: every point, N crashes
                          in a row; or a list of points: ${CRASH_POINTS.join(', ')}
  --key FIELD             compare records by this field instead of their whole content (for
                          jobs that stamp a time or a random id on each record)
  --set PATH=VALUE        override a job value (repeatable), e.g. point a sink at a test database
${ENV_FILE_USAGE}
  --format F              text (default) or json
  --keep                  keep the scratch folder (printed) instead of deleting it

File sinks, the dead-letter file, file checkpoints and SQLite databases are redirected into a
scratch folder. Other sinks (PostgreSQL, MySQL, Redis, mail) write where the job says: point them
at a test database with --set or a .env file. Each scenario starts with --fresh, so such a sink
must start empty on a fresh run (sql: onFresh: truncate or mode: replace).

exit codes: 0 every sink that could be checked kept its guarantee, and the source read exactly
what it should · 1 a guarantee was broken, or a run failed · 2 invalid job or usage`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(
    argv,
    {
      records: { type: 'string' },
      points: { type: 'string' },
      key: { type: 'string' },
      set: { type: 'string', multiple: true },
      'env-file': { type: 'string', multiple: true },
      format: { type: 'string' },
      keep: { type: 'boolean' },
    },
    USAGE,
  );
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'crash-test takes one job file' : 'missing job file', USAGE);
  const format = oneOf(values.format, ['text', 'json'] as const, '--format', USAGE) ?? 'text';
  const records = values.records === undefined ? 1000 : Number(values.records);
  if (!Number.isInteger(records) || records < 1) throw new UsageError(`--records must be a whole number above 0 (got '${values.records}')`, USAGE);
  const { points, crashes } = pointsOption(values.points);
  if (values.key !== undefined && !values.key) throw new UsageError('--key needs a field name', USAGE);

  const file = positionals[0]!;
  const envFiles = values['env-file'] ? readEnvFiles(values['env-file'], USAGE) : undefined;
  const userSets = values.set ?? [];
  const plan = await loadForRun(file, userSets, envFiles);
  if (!plan) return 2;
  // Enough batches that a crash lands mid-run with checkpoints behind it; and a batch size set,
  // so that a batch is one page (growing batches would not match the hook's journal of pages).
  const batchSize = Math.min(plan.batch.size, Math.max(1, Math.floor(records / 10)));
  const batchSets = batchSize !== plan.batch.size || plan.batch.grow ? [`batch.size=${batchSize}`] : [];
  const scratch = mkdtempSync(join(tmpdir(), `sluice-crash-${plan.name}-`));
  const redactor = new Redactor([...plan.secrets]);
  const say = (text: string) => process.stderr.write(redactor.redact(text));

  const launcher = cliLauncher({ file, plan, scratch, sets: [...userSets, ...batchSets], envFiles: values['env-file'] ?? [] });
  const moved = redirect(plan, join(scratch, 'reference'), false).moved;
  if (format === 'text') {
    say(`crash-test ${plan.name}: up to ${records} records${batchSets.length ? ` in batches of ${batchSize}` : ''}; ${points.length} points × ${crashes} crash${crashes > 1 ? 'es' : ''}\n`);
    if (moved.length) say(`redirected into ${scratch}: ${moved.join(', ')}\n`);
  }
  try {
    const report = await runCrashTest(launcher, {
      scratch,
      points,
      crashes,
      records,
      ...(values.key !== undefined ? { key: values.key } : {}),
      onScenario: (s) => format === 'text' && say(`  ${s.point}: ${s.error ? 'error' : s.passed ? 'passed' : 'FAILED'}\n`),
    });
    process.stdout.write(redactor.redact(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `\n${formatCrashReport(report)}`));
    return report.passed ? 0 : 1;
  } catch (error) {
    if (!(error instanceof CrashTestError)) throw error;
    say(`sluice crash-test: ${error.message}\n`);
    return 1;
  } finally {
    if (values.keep) say(`scratch folder kept: ${scratch}\n`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

/** `--points all|N|point,point`. */
function pointsOption(value: string | undefined): { points: CrashPoint[]; crashes: number } {
  if (value === undefined || value === 'all') return { points: [...CRASH_POINTS], crashes: 1 };
  if (/^\d+$/.test(value)) {
    const crashes = Number(value);
    if (crashes < 1 || crashes > 20) throw new UsageError(`--points N must be from 1 to 20 crashes (got '${value}')`, USAGE);
    return { points: [...CRASH_POINTS], crashes };
  }
  const points = value.split(',').map((p) => p.trim());
  const unknown = points.filter((p) => !(CRASH_POINTS as readonly string[]).includes(p));
  if (unknown.length || points.length === 0) throw new UsageError(`--points: unknown point '${unknown[0] ?? value}'; points: all, a number of crashes, or ${CRASH_POINTS.join(', ')}`, USAGE);
  return { points: points as CrashPoint[], crashes: 1 };
}

/** Runs `sluice run` (this same CLI) as the child, with the scenario's outputs redirected. */
function cliLauncher(o: { file: string; plan: JobPlan; scratch: string; sets: string[]; envFiles: string[] }): CrashLauncher {
  const cli = resolve(process.argv[1]!);
  const setsOf = (scenario: string, copy: boolean) => [...o.sets, ...redirect(o.plan, join(o.scratch, scenario), copy).sets];
  return {
    run(scenario, { fresh, env }) {
      const args = [cli, 'run', o.file, '--progress', 'none', ...(fresh ? ['--fresh'] : [])];
      for (const s of setsOf(scenario, fresh)) args.push('--set', s);
      for (const f of o.envFiles) args.push('--env-file', f);
      return new Promise<ChildExit>((done, fail) => {
        const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
        child.on('error', fail);
        child.on('close', (code, signal) => done({ code, signal, stderr }));
      });
    },
    async readBack(scenario) {
      const plan = await loadForRun(o.file, setsOf(scenario, false), o.envFiles.length ? readEnvFiles(o.envFiles) : undefined);
      if (!plan) throw new CrashTestError(`the job no longer loads with the scenario's overrides`);
      // The dead-letter sink is checked like the others; each entry's time (`at`) differs from run to run.
      const sinks = [...plan.sinks, plan.deadLetter].map((s) => ({ id: s.id, plugin: s.plugin as never, config: s.config }));
      const held = await readBackSinks(sinks, { name: plan.name, dir: plan.dir, checkpoint: plan.checkpoint, connections: plan.connections, env: plan.env });
      return held.map((h) => (h.sink !== plan.deadLetter.id || !h.records ? h : { ...h, records: h.records.map(({ at: _at, ...entry }) => entry) }));
    },
  };
}
