import { dirname, relative } from 'node:path';
import { captureSink, collectSource, type CapturedSink, type SluiceRecord } from '@sluice/core';
import { formatDiagnostic, JobRun, loadJob, type EnginePage, type JobPlan, type PluginRegistry, type RunSummary } from '@sluice/core/internal';
import { compare } from './compare.js';
import type { JobTestCase, JobTestFile } from './spec.js';

/** The outcome of one test case. */
export interface CaseResult {
  readonly file: string;
  readonly name: string;
  readonly line: number;
  readonly passed: boolean;
  readonly durationMs: number;
  /** Why it failed: readable lines, diffs included. */
  readonly problems: string[];
}

/**
 * Runs every case of a job test file: the job is loaded as `sluice run` would (without needing
 * its secrets), its source replaced by the case's input and its sinks and dead-letter sink by
 * in-memory captures, so nothing outside the process is read or written by the source and sinks.
 */
export async function runJobTestFile(spec: JobTestFile, registry: PluginRegistry, env: Readonly<Record<string, string>> = {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const testCase of spec.cases) {
    const started = performance.now();
    let problems: string[];
    try {
      problems = await runCase(spec, testCase, registry, env);
    } catch (error) {
      problems = [`the test could not run: ${(error as Error).message}`];
    }
    results.push({
      file: spec.file,
      name: testCase.name,
      line: testCase.line,
      passed: problems.length === 0,
      durationMs: performance.now() - started,
      problems,
    });
  }
  return results;
}

async function runCase(spec: JobTestFile, testCase: JobTestCase, registry: PluginRegistry, env: Readonly<Record<string, string>>): Promise<string[]> {
  const jobName = relative(process.cwd(), spec.job) || spec.job;
  // The test's own env over --env-file's (or the .env beside the job), never the process's: a job test gives the same result on every machine.
  const { plan, diagnostics } = await loadJob(spec.job, { registry, env: { ...env, ...testCase.env }, strictEnv: false, displayName: jobName });
  if (!plan) return ['the job is invalid:', ...diagnostics.filter((d) => d.severity === 'error').map((d) => `  ${formatDiagnostic(d).replace(/\n/g, '\n  ')}`)];

  const captures = new Map<string, CapturedSink>(plan.sinks.map((s) => [s.id, captureSink(s.id)]));
  const deadLetters = captureSink('deadLetter');
  const testPlan: JobPlan = {
    ...plan,
    checkpoint: { ...plan.checkpoint, store: 'none' },
    sinks: plan.sinks.map((s) => ({ ...s, plugin: captures.get(s.id)!.plugin, config: {} })),
    deadLetter: { ...plan.deadLetter, plugin: deadLetters.plugin, config: {} },
  };

  const pages = await inputPages(testCase, plan, registry, dirname(spec.file));
  const run = new JobRun(testPlan, { input: fromArray(pages) });
  const summary: RunSummary = await run.run();

  const problems: string[] = [];
  const expect = testCase.expect;
  if (expect.error !== undefined) {
    if (summary.status !== 'failed') problems.push(`expected the run to fail with "${expect.error}", but it finished`);
    else if (!summary.error?.includes(expect.error)) problems.push(`expected the run to fail with "${expect.error}", but it failed with: ${summary.error}`);
  } else if (summary.status !== 'done') {
    problems.push(`the run ${summary.status}: ${summary.error ?? ''}`);
    return problems;
  }

  if (expect.output !== undefined) {
    if (plan.sinks.length !== 1) {
      problems.push(`output: is for a job with one sink; this one has ${plan.sinks.length} (${plan.sinks.map((s) => s.id).join(', ')}): use sinks: { id: … }`);
    } else {
      problems.push(...compare(`sink '${plan.sinks[0]!.id}'`, expect.output, captures.get(plan.sinks[0]!.id)!.records, 'records'));
    }
  }
  for (const [id, expectation] of Object.entries(expect.sinks ?? {})) {
    const captured = captures.get(id);
    if (!captured) problems.push(`sinks.${id}: the job has no sink '${id}' (its sinks: ${[...captures.keys()].join(', ')})`);
    else problems.push(...compare(`sink '${id}'`, expectation, captured.records, 'records'));
  }
  if (expect.deadLetters !== undefined) problems.push(...compare('dead letters', expect.deadLetters, deadLetters.records, 'deadLetters'));
  for (const [key, want] of Object.entries(expect.counts ?? {})) {
    const got = summary.counters[key as keyof RunSummary['counters']];
    if (got !== want) problems.push(`counts.${key}: expected ${want}, got ${got}`);
  }
  return problems;
}

/** The case's input as pages of the job's batch size: inline records, or a file read by the `file` source. */
async function inputPages(testCase: JobTestCase, plan: JobPlan, registry: PluginRegistry, dir: string): Promise<EnginePage[]> {
  const size = plan.batch.size;
  if ('records' in testCase.input) {
    const records = testCase.input.records as SluiceRecord[];
    const pages: EnginePage[] = [];
    for (let start = 0; start < records.length; start += size) {
      const slice = records.slice(start, start + size);
      pages.push({ records: slice.map((r) => structuredClone(r)), positions: slice.map((_, i) => ({ index: start + i })), cursor: null });
    }
    return pages;
  }
  const file = registry.get('source', 'file');
  if (!file || file.definition.kind !== 'source') throw new Error('input: { file } needs the built-in file source');
  return collectSource(file.definition, { ...testCase.input.with, path: testCase.input.file }, { dir, batchSize: size, jobName: plan.name });
}

async function* fromArray(pages: EnginePage[]): AsyncGenerator<EnginePage> {
  yield* pages;
}
