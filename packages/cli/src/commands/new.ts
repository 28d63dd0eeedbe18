import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_VERSION } from '@sluice/core/internal';
import { oneOf, parse, UsageError } from '../args.js';
import { scaffoldFiles, type ScaffoldKind } from '../scaffold/templates.js';

const USAGE = `usage: sluice new plugin NAME [options]

  --kind KIND    source | transform | sink (default transform)
  --dir DIR      where to write the package (default ./NAME, without its @scope/)
  --core SPEC    the devDependency on @sluice/core (default ^${CORE_VERSION}); a path or a
                 tarball works while @sluice/core is not on your registry

Writes a plugin package that builds and passes its test as it is: package.json (keyword
sluice-plugin, a peer dependency on @sluice/core), src/index.ts, src/index.test.ts, tsconfig.json
and README.md. NAME is the npm package name; jobs use the plugin by NAME without its scope and a
leading 'sluice-plugin-' (sluice-plugin-geoip → use: geoip).
exit codes: 0 written · 2 usage, or the folder is not empty`;

const NPM_NAME = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { kind: { type: 'string' }, dir: { type: 'string' }, core: { type: 'string' } }, USAGE);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [what, packageName, ...extra] = positionals;
  if (what !== 'plugin') throw new UsageError(what ? `sluice new makes plugins only (got '${what}')` : 'missing what to make: sluice new plugin NAME', USAGE);
  if (!packageName) throw new UsageError('missing the package name: sluice new plugin NAME', USAGE);
  if (extra.length) throw new UsageError(`unexpected ${extra.map((e) => `'${e}'`).join(' ')}`, USAGE);
  if (!NPM_NAME.test(packageName) || packageName.length > 214) {
    throw new UsageError(`'${packageName}' is not a valid npm package name (lowercase letters, digits, - . _ ~, an optional @scope/)`, USAGE);
  }
  const kind = oneOf(values.kind, ['source', 'transform', 'sink'] as const, '--kind', USAGE) ?? 'transform';
  const unscoped = packageName.replace(/^@[^/]+\//, '');
  const pluginName = unscoped.replace(/^sluice-plugin-/, '');
  if (!/^[a-z][a-z0-9-]*$/.test(pluginName)) {
    throw new UsageError(`the plugin name '${pluginName}' (from '${packageName}') must be lowercase letters, digits and dashes, starting with a letter`, USAGE);
  }

  const dir = resolve(values.dir ?? unscoped);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    process.stderr.write(`sluice new: ${relative(process.cwd(), dir) || '.'} exists and is not empty; choose another --dir\n`);
    return 2;
  }
  const coreRange = `^${CORE_VERSION}`;
  const files = scaffoldFiles({ packageName, pluginName, kind: kind as ScaffoldKind, coreRange, coreSpec: values.core ?? coreRange });
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const shown = relative(process.cwd(), dir) || '.';
  // A sluice run from a checkout has a @sluice/core no registry knows of: install that one.
  const localCore = values.core ? undefined : checkoutCore();
  process.stdout.write(
    `created ${shown}/: ${kind} plugin '${pluginName}' in package ${packageName}\n` +
      Object.keys(files)
        .map((f) => `  ${f}\n`)
        .join('') +
      `next: cd ${shown} && npm install${localCore ? ` --no-save ${localCore}` : ''} && npm test\n`,
  );
  return 0;
}

/** The folder of the @sluice/core this sluice runs, when it is a source checkout rather than an installed package. */
function checkoutCore(): string | undefined {
  try {
    const dir = realpathSync(resolve(fileURLToPath(import.meta.resolve('@sluice/core')), '../..'));
    return dir.split(sep).includes('node_modules') ? undefined : dir;
  } catch {
    return undefined;
  }
}
