import { stat } from 'node:fs/promises';
import { isAbsolute, normalize, relative, sep } from 'node:path';
import { PermanentError } from '@sluice/core';
import { isGzipPath } from './formats.js';

/** One input file, fixed at `create`: the list is the frame of reference for cursors. */
export interface InputFile {
  /** Absolute path. */
  readonly path: string;
  /** As shown in positions, cursors and messages: relative to the job folder when inside it. */
  readonly name: string;
  /** Size on disk (compressed size for `.gz`). */
  readonly size: number;
  readonly gzip: boolean;
  /** Inode and modification time when the run began: hints that the file was replaced (see check.ts). */
  readonly ino?: number;
  readonly mtimeMs?: number;
}

/** How a path is shown: relative to the job folder when it lies inside, absolute otherwise. */
export function displayName(path: string, jobDir: string): string {
  const rel = relative(jobDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return path;
  return sep === '/' ? rel : rel.split(sep).join('/');
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The characters without which no pattern is a glob for tinyglobby (picomatch's scan: `*`, `?`,
 * `[…]`, `{…}`, extglobs `@(…)`, a leading `!`). A plain path is taken as it is without loading
 * tinyglobby (and fdir, picomatch): a few ms of every run's start-up.
 */
export const MAYBE_GLOB = /[*?[{(!]/;

/** Whether tinyglobby takes `pattern` for a glob (loaded only for a pattern that may be one). */
export async function isGlob(pattern: string): Promise<boolean> {
  return MAYBE_GLOB.test(pattern) && (await import('tinyglobby')).isDynamicPattern(pattern);
}

/**
 * Expands paths and globs into files, in the order the patterns are given; the matches of each
 * glob are sorted lexicographically (by code unit, not locale, so the order is the same
 * everywhere). A file matched twice is read once, at its first place.
 */
export async function expandInputs(
  patterns: readonly string[],
  resolvePath: (path: string) => string,
  jobDir: string,
): Promise<InputFile[]> {
  const seen = new Set<string>();
  const paths: string[] = [];
  for (const pattern of patterns) {
    let matches: string[];
    if (await isGlob(pattern)) {
      const { glob } = await import('tinyglobby');
      // A relative glob runs from the job folder as its cwd, so glob characters in the folder's
      // own name (`/home/me/[work]/jobs`) are not taken for a pattern.
      const options = { absolute: true, onlyFiles: true, expandDirectories: false, dot: false };
      const found = isAbsolute(pattern) ? await glob(pattern, options) : await glob(pattern, { ...options, cwd: resolvePath('.') });
      matches = found.map((p) => normalize(p)).sort(byCodeUnits);
      if (matches.length === 0) {
        throw new PermanentError(`file: no files match '${pattern}' (from ${jobDir})`);
      }
    } else {
      matches = [resolvePath(pattern)];
    }
    for (const path of matches) {
      if (seen.has(path)) continue;
      seen.add(path);
      paths.push(path);
    }
  }
  const files: InputFile[] = [];
  for (const path of paths) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
      if (!info.isFile()) throw new PermanentError(`file: '${path}' is not a file`);
    } catch (error) {
      if (error instanceof PermanentError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? (error as Error).message})`;
      throw new PermanentError(`file: ${why}: ${path}`, { cause: error });
    }
    files.push({ path, name: displayName(path, jobDir), size: info.size, gzip: isGzipPath(path), ino: info.ino, mtimeMs: info.mtimeMs });
  }
  return files;
}
