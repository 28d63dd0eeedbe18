import { existsSync } from 'node:fs';
import { glob } from 'tinyglobby';
import { UsageError } from './args.js';

/**
 * The files a command's FILE_OR_GLOB arguments name, in argument order: a path that exists is
 * taken as it is (a file name with glob characters in it stays itself), anything else is a glob
 * whose matches come sorted. A pattern that matches nothing is a usage error, not an empty run.
 */
export async function filesOfArguments(patterns: readonly string[], usage: string): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    if (existsSync(pattern)) files.push(pattern);
    else {
      const matched = (await glob(pattern, { onlyFiles: true })).sort();
      if (matched.length === 0) throw new UsageError(`no files match '${pattern}'`, usage);
      files.push(...matched);
    }
  }
  return files;
}
