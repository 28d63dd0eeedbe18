import { deadLettersOfMissingSteps, formatDiagnostic, loadJob, type Diagnostic, type JobPlan } from '@sluice/core/internal';
import { oneOf, parse, UsageError } from '../args.js';
import { shortPath } from '../job.js';
import { builtInRegistry } from '../builtins.js';
import { filesOfArguments } from '../file-args.js';
import { ENV_FILE_USAGE, jobEnv, readEnvFiles } from '../envfile.js';
import { isJobTestFile, loadJobTestFile } from '../jobtest/spec.js';

const USAGE = `usage: sluice validate FILE_OR_GLOB… [options]

  --format FORMAT   text | json | github (default text)
  --strict-env      a missing environment variable is an error (default: a warning)
${ENV_FILE_USAGE.replace(/^ {2}--env-file FILE {9}/, '  --env-file FILE   ').replace(/\n {26}/g, '\n                    ')}

Checks YAML, the job schema, every plugin's options and every expression; job test files
(*.test.yaml) are checked as job tests. Runs nothing: no expression is evaluated and no plugin
is started (plugins are imported for their schemas). Secrets are not needed: a missing
environment variable is a warning unless --strict-env.
exit codes: 0 valid · 1 invalid · 2 usage`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { format: { type: 'string' }, 'strict-env': { type: 'boolean' }, 'env-file': { type: 'string', multiple: true } }, USAGE);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const format = oneOf(values.format, ['text', 'json', 'github'] as const, '--format', USAGE) ?? 'text';
  if (positionals.length === 0) throw new UsageError('name at least one job file or glob', USAGE);

  const files = await filesOfArguments(positionals, USAGE);

  const envFiles = values['env-file'] ? readEnvFiles(values['env-file'], USAGE) : undefined;
  const registry = builtInRegistry();
  const results: Array<{ file: string; valid: boolean; diagnostics: Diagnostic[] }> = [];
  for (const file of [...new Set(files)]) {
    if (isJobTestFile(file)) {
      const { spec, diagnostics } = await loadJobTestFile(file);
      results.push({ file, valid: spec !== undefined, diagnostics });
      continue;
    }
    const { plan, diagnostics } = await loadJob(file, { registry, strictEnv: Boolean(values['strict-env']), env: jobEnv(file, envFiles) });
    if (plan) diagnostics.push(...(await replayWarnings(plan, file)));
    results.push({ file, valid: plan !== undefined && !diagnostics.some((d) => d.severity === 'error'), diagnostics });
  }
  const invalid = results.filter((r) => !r.valid).length;

  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ valid: invalid === 0, files: results }, null, 2)}\n`);
  } else if (format === 'github') {
    for (const r of results) {
      for (const d of r.diagnostics) {
        process.stdout.write(`${githubAnnotation(d)}\n`);
      }
    }
    process.stdout.write(`${results.length - invalid} valid, ${invalid} invalid\n`);
  } else {
    for (const r of results) {
      for (const d of r.diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
      if (r.valid) process.stdout.write(`${r.file}: ok${r.diagnostics.length ? ` (${r.diagnostics.length} warning${r.diagnostics.length > 1 ? 's' : ''})` : ''}\n`);
    }
    process.stdout.write(`${results.length} file${results.length === 1 ? '' : 's'}: ${results.length - invalid} valid, ${invalid} invalid\n`);
  }
  return invalid === 0 ? 0 : 1;
}

/** Dead letters `sluice replay` would refuse: their step id is gone from the job (renamed or removed). */
async function replayWarnings(plan: JobPlan, file: string): Promise<Diagnostic[]> {
  const missing = await deadLettersOfMissingSteps(plan);
  if (!missing) return [];
  const named = [...missing.steps].map(([step, n]) => `'${step}' (${n} entr${n === 1 ? 'y' : 'ies'})`).join(', ');
  return [{
    severity: 'warning',
    file,
    line: 0,
    col: 0,
    path: '',
    message: `${shortPath(missing.file)} holds dead letters of ${named}, which this job has no step for; sluice replay will refuse them`,
    hint: 'give the step back its id before replaying, or replay another file with --dead-letter FILE',
  }];
}

/**
 * A GitHub Actions workflow command that annotates the file at the line and column:
 * `::error file=jobs/a.yaml,line=14,col=7::steps[1].with.where: …`. A problem with no place in
 * the file (a missing file) annotates the file alone.
 */
export function githubAnnotation(d: Diagnostic): string {
  const message = `${d.path ? `${d.path}: ` : ''}${d.message}${d.hint ? `\nhint: ${d.hint}` : ''}`;
  const place = d.line > 0 ? `,line=${d.line},col=${d.col}` : '';
  return `::${d.severity === 'error' ? 'error' : 'warning'} file=${escapeProperty(d.file)}${place}::${escapeData(message)}`;
}

/** GitHub's workflow-command escaping for the message part. */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** … and for a property value (`file=`), where `:` and `,` separate. */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
