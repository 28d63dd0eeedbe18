import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { CORE_VERSION, didYouMean } from '@sluice/core/internal';
import { oneOf, parse, UsageError } from '../args.js';
import { JOB_TEMPLATES } from '../scaffold/jobs.js';
import { scaffoldFiles, type ScaffoldKind } from '../scaffold/templates.js';

const TEMPLATE_LIST = Object.entries(JOB_TEMPLATES)
  .map(([name, t]) => `  ${name.padEnd(17)}${t.summary}`)
  .join('\n');

const USAGE = `usage: sluice new job NAME --from TEMPLATE [--dir DIR]
       sluice new plugin NAME [--kind KIND] [--dir DIR] [--core SPEC]

sluice new job writes DIR/NAME.yaml (DIR: jobs/ when there is one, else the current folder) from
a template; it validates as written. Templates:
${TEMPLATE_LIST}

sluice new plugin writes a plugin package that builds and passes its test as it is: package.json
(keyword sluice-plugin, a peer dependency on @sluice/core), src/index.ts, src/index.test.ts,
tsconfig.json and README.md. NAME is the npm package name; jobs use the plugin by NAME without its
scope and a leading 'sluice-plugin-' (sluice-plugin-geoip → use: geoip).
  --kind KIND    source | transform | sink (default transform)
  --dir DIR      where to write the package (default ./NAME, without its @scope/)
  --core SPEC    the devDependency on @sluice/core (default ^${CORE_VERSION}); a path or a
                 tarball to build against a @sluice/core that is on no registry
exit codes: 0 written · 2 usage, or the file or folder exists`;

const NPM_NAME = /^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { kind: { type: 'string' }, dir: { type: 'string' }, core: { type: 'string' }, from: { type: 'string' } }, USAGE);
  if (help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [what, packageName, ...extra] = positionals;
  if (what === 'job') return newJob(packageName, extra, values);
  if (what !== 'plugin') throw new UsageError(what ? `sluice new makes a job or a plugin (got '${what}')` : 'missing what to make: sluice new job NAME --from TEMPLATE, or sluice new plugin NAME', USAGE);
  if (values.from !== undefined) throw new UsageError('--from goes with sluice new job', USAGE);
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
  process.stdout.write(
    `created ${shown}/: ${kind} plugin '${pluginName}' in package ${packageName}\n` +
      Object.keys(files)
        .map((f) => `  ${f}\n`)
        .join('') +
      `next: cd ${shown} && npm install && npm test\n`,
  );
  return 0;
}

/** `sluice new job NAME --from TEMPLATE`: one job file, never over an existing one. */
async function newJob(name: string | undefined, extra: string[], values: { from?: string; dir?: string; kind?: string; core?: string }): Promise<number> {
  if (!name) throw new UsageError('missing the job name: sluice new job NAME --from TEMPLATE', USAGE);
  if (extra.length) throw new UsageError(`unexpected ${extra.map((e) => `'${e}'`).join(' ')}`, USAGE);
  if (values.kind !== undefined || values.core !== undefined) throw new UsageError(`${values.kind !== undefined ? '--kind' : '--core'} goes with sluice new plugin`, USAGE);
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new UsageError(`a job name is lowercase letters, digits and dashes (got '${name}'); it names the job's checkpoint`, USAGE);
  if (!values.from) throw new UsageError(`missing --from TEMPLATE; one of: ${Object.keys(JOB_TEMPLATES).join(', ')}`, USAGE);
  const template = JOB_TEMPLATES[values.from];
  if (!template) {
    const near = didYouMean(values.from, Object.keys(JOB_TEMPLATES));
    throw new UsageError(`unknown template '${values.from}'${near ? `; did you mean '${near}'?` : ''} known: ${Object.keys(JOB_TEMPLATES).join(', ')}`, USAGE);
  }
  const dir = resolve(values.dir ?? (existsSync('jobs') ? 'jobs' : '.'));
  const file = join(dir, `${name}.yaml`);
  const shown = relative(process.cwd(), file);
  if (existsSync(file)) {
    process.stderr.write(`sluice new: ${shown} exists; choose another NAME or --dir\n`);
    return 2;
  }
  await mkdir(dir, { recursive: true });
  await writeFile(file, template.text(name), { flag: 'wx' });
  process.stdout.write(`created ${shown}: ${template.summary}\nnext: edit it, then npx sluice validate ${shown}\n`);
  return 0;
}
