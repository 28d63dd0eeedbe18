import { resolve } from 'node:path';
import { Redactor, type JobPlan } from '@sluice/core/internal';
import { shortPath } from '../job.js';
import type { RunInfo } from './watch.js';

/** The source in a few words: its plugin and what it reads (`file data/users.csv`). */
export function sourceLabel(plan: JobPlan): string {
  const config = plan.source.config;
  for (const key of ['path', 'url', 'table', 'query']) {
    const value = config[key];
    if (typeof value === 'string' && value) return `${plan.source.use} ${key === 'path' && !value.includes('*') ? shortPath(resolve(plan.dir, value)) : value}`;
  }
  return plan.source.use;
}

/** Where the job's checkpoint lives, as a user would look for it. */
export function checkpointLocation(plan: JobPlan): string {
  return plan.checkpoint.store === 'file' ? shortPath(resolve(plan.dir, String(plan.checkpoint.path), `${plan.name}.json`)) : plan.checkpoint.store;
}

/** What the renderers show of a job besides its events; every text passes the job's redactor. */
export function runInfoOf(plan: JobPlan, options: { dryRun?: boolean; limit?: number } = {}): RunInfo {
  const { redact } = new Redactor(plan.secrets);
  const off = options.dryRun ? 'off (dry run)' : options.limit !== undefined ? 'off (--limit)' : plan.checkpoint.store === 'none' ? 'off (checkpoint.store: none)' : undefined;
  const dl = plan.deadLetter;
  return {
    job: plan.name,
    source: redact(sourceLabel(plan)),
    ...(plan.maxFailed ? { maxFailed: plan.maxFailed } : {}),
    checkpoint: off ?? redact(checkpointLocation(plan)),
    checkpointing: off === undefined,
    ...(dl.use === 'file' && typeof dl.config.path === 'string' ? { deadLetterPath: redact(shortPath(resolve(plan.dir, dl.config.path))) } : {}),
    redact,
  };
}
