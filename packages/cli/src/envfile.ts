import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEnv } from 'node:util';
import { UsageError } from './args.js';

/** The help text of `--env-file`, the same for every command that takes it. */
export const ENV_FILE_USAGE = `  --env-file FILE         read variables for \${env:…} from FILE (repeatable; a later file wins;
                          the environment wins over every file). Without it, a .env beside
                          the job file is read when there is one`;

/**
 * Reads `--env-file` files (dotenv syntax: `NAME=value`, quotes, `#` comments, `export` ignored).
 * A missing or unreadable file is a usage error (exit 2) naming it. Later files win.
 */
export function readEnvFiles(files: readonly string[], usage?: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(`--env-file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (error as Error).message}`, usage);
    }
    Object.assign(values, parseEnv(text));
  }
  return values;
}

/**
 * The environment a job loads with: the process environment over the `--env-file` files, or —
 * when none is given — over the `.env` beside the job file, when there is one. Values reach the
 * job only through `${env:…}` (and expressions' `env`), so they are secrets like any `${env:}`
 * value: the loader records each one it substitutes and the redactor hides it.
 */
export function jobEnv(jobFile: string, fromFiles?: Record<string, string>): NodeJS.ProcessEnv {
  return { ...(fromFiles ?? besideEnv(jobFile)), ...process.env };
}

/** The variables of the `.env` beside the job file; none when there is no such file. */
export function besideEnv(jobFile: string): Record<string, string> {
  const beside = join(dirname(jobFile), '.env');
  return existsSync(beside) ? readEnvFiles([beside]) : {};
}
