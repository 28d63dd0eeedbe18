import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './cli.js';

/** Writes `files` (path relative to `dir` → content) under `dir`, making folders as needed. */
export function writeFiles(dir: string, files: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** The JSON values of a JSON Lines file (blank lines ignored). */
export function readJsonl<T = Record<string, unknown>>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

/** Lets local plugin modules in `dir` import `@sluice/core` (the workspace package). */
export function linkCore(dir: string): void {
  mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
  symlinkSync(join(ROOT, 'packages/core'), join(dir, 'node_modules/@sluice/core'));
}

export interface Counters {
  read: number;
  produced: number;
  written: number;
  filtered: number;
  deadLettered: number;
  skipped: number;
}

/** Every record that came in left through exactly one door. */
export function balances(c: Counters): boolean {
  return c.read + (c.produced ?? 0) === c.written + c.filtered + c.deadLettered + c.skipped;
}

/** A line of a JavaScript stack trace, which a user's mistake must never print. */
export const STACK_LINE = /\n\s+at /;
