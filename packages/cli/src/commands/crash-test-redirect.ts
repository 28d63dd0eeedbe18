// Where a crash-test scenario's outputs go: `--set` overrides that point the job's file sinks,
// its dead-letter file, its file checkpoints and its SQLite databases into the scenario's own
// scratch folder, so no scenario touches the job's real outputs or another scenario's. A SQLite
// file that exists is copied first (the job may read from it). Other sinks write where the job says.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { JobPlan, StepPlan } from '@sluice/core/internal';

/** `a.b.0.c` for the JSON pointer `/a/b/0/c`. */
const dotted = (pointer: string) => pointer.split('/').slice(1).join('.');
const set = (path: string, value: string) => `${path}=${JSON.stringify(value)}`;

function isFileSink(step: StepPlan): boolean {
  return step.use === 'file' && step.plugin.name === 'file';
}

/** What is redirected, for the report's header. */
export interface Redirects {
  readonly sets: string[];
  /** Sinks, dead letters, checkpoint and connections that were moved, by name. */
  readonly moved: string[];
}

/** The overrides for `scenario`; copies SQLite files into `folder`. */
export function redirect(plan: JobPlan, folder: string, copy: boolean): Redirects {
  const sets: string[] = [];
  const moved: string[] = [];
  mkdirSync(folder, { recursive: true });
  for (const sink of plan.sinks) {
    if (!isFileSink(sink) || typeof sink.config.path !== 'string') continue;
    sets.push(set(`${dotted(sink.pointer)}.with.path`, join(folder, 'sinks', sink.id, basename(sink.config.path))));
    moved.push(`sink ${sink.id}`);
  }
  if (isFileSink(plan.deadLetter) && typeof plan.deadLetter.config.path === 'string') {
    sets.push('deadLetter.use=file', set('deadLetter.with.path', join(folder, 'dead-letter', basename(plan.deadLetter.config.path))));
    moved.push('dead letters');
  }
  if (plan.checkpoint.store === 'file') {
    sets.push(set('checkpoint.path', join(folder, 'checkpoints')));
    moved.push('checkpoints');
  }
  for (const [name, config] of Object.entries(plan.connections)) {
    if (config.client !== 'better-sqlite3' || /[.[\]]/.test(name)) continue;
    const raw = typeof config.filename === 'string' ? config.filename : typeof config.url === 'string' ? config.url : undefined;
    const file = raw?.replace(/^(sqlite3?|file):(\/\/)?/, '');
    if (!file || file === ':memory:') continue;
    const original = isAbsolute(file) ? file : resolve(plan.dir, file);
    const target = join(folder, 'sqlite', `${name}-${basename(original)}`);
    mkdirSync(join(folder, 'sqlite'), { recursive: true });
    if (copy && existsSync(original)) copyFileSync(original, target);
    sets.push(set(`connections.${name}.filename`, target));
    moved.push(`connection ${name}`);
  }
  return { sets, moved };
}
