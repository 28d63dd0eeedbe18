import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { formatDiagnostic, loadJob, type JobPlan, type PluginRegistry } from '@sluice/core/internal';
import { registryFor } from './builtin-contents.js';
import { jobEnv } from './envfile.js';

/** A path as the user would want to read it: relative to where they are, when that is shorter. */
export function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('../../') && rel.length < path.length ? rel : path;
}

/**
 * Loads a job for running, with the variables of `--env-file` (or of a `.env` beside the job);
 * prints its problems and returns undefined when it is invalid.
 */
export async function loadForRun(file: string, sets: string[] = [], envFiles?: Record<string, string>): Promise<JobPlan | undefined> {
  const { plan, diagnostics } = await loadJob(file, { registry: await runRegistry(file, sets), sets, strictEnv: true, env: jobEnv(file, envFiles) });
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  return plan;
}

/**
 * Only the built-in packages the job names (start-up cost), or all when that cannot be told. The
 * main thread and every `--threads` worker thread load the job with it.
 */
export async function runRegistry(file: string, sets: readonly string[]): Promise<PluginRegistry> {
  const text = sets.length ? undefined : await readFile(file, 'utf8').catch(() => undefined);
  const some = text === undefined ? undefined : await registryFor(text);
  return some ?? (await import('./builtins.js')).builtInRegistry();
}
