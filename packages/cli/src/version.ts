import { readFileSync } from 'node:fs';

/** The version of this @sluice/cli, from its package.json (`sluice --version`, `sluice init`'s devDependency range). */
export const CLI_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
