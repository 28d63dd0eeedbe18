import { glob } from 'tinyglobby';
import { formatDiagnostic } from '@sluice/core/internal';
import { oneOf, parse, UsageError } from '../args.js';
import { builtInRegistry } from '../builtins.js';
import { filesOfArguments } from '../file-args.js';
import { besideEnv, readEnvFiles } from '../envfile.js';
import { duration } from '../render/format.js';
import { runJobTestFile, type CaseResult } from '../jobtest/run.js';
import { loadJobTestFile } from '../jobtest/spec.js';

const USAGE = `usage: sluice test [JOB_TEST.yaml | GLOB]… [options]

  --format FORMAT   text | json (default text)
  --env-file FILE   variables for every case's \${env:…}, under the test file's own env:
                    (repeatable; a later file wins). Without it, the .env beside the job file
                    is read when there is one. The process environment is never read, so a
                    test passes the same on every machine: test env: > --env-file or .env

Runs job tests (*.test.yaml): each names a job, input records (inline or a file) and the sink
output and dead letters expected. The source is replaced by the input and the sinks are captured
in memory, so no database, API or mail server is needed. Without arguments: every *.test.yaml
below the current folder.
exit codes: 0 all pass · 1 a test failed · 2 usage or an invalid test file`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { format: { type: 'string' }, 'env-file': { type: 'string', multiple: true } }, USAGE);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const format = oneOf(values.format, ['text', 'json'] as const, '--format', USAGE) ?? 'text';

  const files: string[] = [];
  if (positionals.length === 0) {
    files.push(...(await glob('**/*.test.{yaml,yml}', { onlyFiles: true, ignore: ['**/node_modules/**', '**/.git/**', '**/dist/**'] })).sort());
    if (files.length === 0) throw new UsageError('no *.test.yaml files below the current folder; name the job tests to run', USAGE);
  }
  files.push(...(await filesOfArguments(positionals, USAGE)));

  const fromFiles = values['env-file'] ? readEnvFiles(values['env-file'], USAGE) : undefined;
  const registry = builtInRegistry();
  const results: CaseResult[] = [];
  let invalid = 0;
  const out = process.stdout;
  for (const file of [...new Set(files)]) {
    const { spec, diagnostics } = await loadJobTestFile(file);
    if (!spec) {
      invalid++;
      if (format === 'text') for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      else results.push({ file, name: '(invalid test file)', line: 0, passed: false, durationMs: 0, problems: diagnostics.map(formatDiagnostic) });
      continue;
    }
    // Like run: --env-file replaces the .env beside the job; the test file's env: wins over both.
    for (const result of await runJobTestFile(spec, registry, fromFiles ?? besideEnv(spec.job))) {
      results.push(result);
      if (format === 'text') out.write(`${caseText(result)}\n`);
    }
  }

  const failed = results.filter((r) => !r.passed).length;
  if (format === 'json') {
    out.write(`${JSON.stringify({ passed: results.length - failed, failed, invalidFiles: invalid, tests: results }, null, 2)}\n`);
  } else {
    out.write(`\n${results.length} test${results.length === 1 ? '' : 's'}: ${results.length - failed} passed, ${failed} failed${invalid ? `; ${invalid} invalid test file${invalid === 1 ? '' : 's'}` : ''}\n`);
  }
  return invalid > 0 ? 2 : failed > 0 ? 1 : 0;
}

/** `PASS jobs/hello.test.yaml › name (12ms)`, and for a failure its problems, indented. */
export function caseText(r: CaseResult): string {
  const head = `${r.passed ? 'PASS' : 'FAIL'} ${r.file}${r.passed ? '' : `:${r.line}`} › ${r.name} (${duration(r.durationMs)})`;
  return r.passed ? head : [head, ...r.problems.map((p) => `  ${p}`)].join('\n');
}
