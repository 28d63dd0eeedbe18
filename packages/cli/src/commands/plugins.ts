import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { CORE_VERSION, isModulePath, loadPluginModule, parseYaml, PluginRegistry, type RegisteredPlugin } from '@sluice/core/internal';
import { parse, usage, UsageError } from '../args.js';
import { BUILT_IN_PACKAGES, builtInRegistry } from '../builtins.js';
import { coreFits, findPackage, installedPluginPackages } from '../installed.js';
import { CLI_VERSION } from '../version.js';

const USAGE = `usage: sluice plugins [JOB.yaml] [--json]

Lists the built-in plugins and the plugin packages a job can use: the packages with the keyword
sluice-plugin installed in node_modules of the job's folder (or the current folder) and every
folder above it, and what the job names in plugins:. For each package: its version, its plugins
and their kinds and options, and whether its peerDependencies['@sluice/core'] range fits this
sluice's @sluice/core.
  --json    { core, plugins: [{ name, kind, description, package, builtIn, schema }],
              packages: [{ name, version, path, coreRange, fits, plugins, problems }] }
exit codes: 0 · 1 a package does not fit this core, or cannot be loaded · 2 usage`;

interface PackageReport {
  name: string;
  version?: string;
  path: string;
  /** How it was found: installed (the keyword, in node_modules) or named in the job's plugins:. */
  from: 'installed' | 'plugins:';
  coreRange?: string;
  /** Whether `coreRange` admits this core; null when it declares no range that can be checked. */
  fits: boolean | null;
  plugins: Array<{ name: string; kind: string }>;
  problems: string[];
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, { json: { type: 'boolean' } }, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length > 1) throw new UsageError('plugins takes at most one job file', USAGE);
  const job = positionals[0];
  if (job !== undefined && !existsSync(job)) throw new UsageError(`no such job file: ${job}`, USAGE);
  const fromDir = resolve(job ? dirname(job) : '.');

  const builtIns = builtInRegistry();
  const builtInPackages = new Set(BUILT_IN_PACKAGES);
  const specs: Array<{ spec: string; from: PackageReport['from'] }> = installedPluginPackages(fromDir)
    .filter((p) => !builtInPackages.has(p.name))
    .map((p) => ({ spec: p.name, from: 'installed' }));
  for (const spec of job ? jobPlugins(job) : []) {
    const known = specs.find((s) => s.spec === spec);
    if (known) known.from = 'plugins:';
    else specs.push({ spec, from: 'plugins:' });
  }

  const registered: Array<RegisteredPlugin & { version?: string }> = builtIns.all();
  const packages: PackageReport[] = [];
  for (const { spec, from } of specs) {
    const report = await inspect(spec, from, fromDir);
    packages.push(report.package);
    registered.push(...report.plugins);
  }

  if (values.json) {
    const plugins = registered.map(({ definition, origin, version }) => ({
      name: definition.name,
      kind: definition.kind,
      description: definition.description,
      package: origin,
      ...(version ? { version } : {}),
      builtIn: builtInPackages.has(origin),
      schema: definition.schema,
    }));
    process.stdout.write(`${JSON.stringify({ core: CORE_VERSION, cli: CLI_VERSION, plugins, packages }, null, 2)}\n`);
  } else {
    const out = process.stdout;
    out.write(`built in (@sluice/cli ${CLI_VERSION}, @sluice/core ${CORE_VERSION}):\n`);
    for (const p of builtIns.all()) out.write(pluginText(p));
    out.write(packages.length ? `\nplugin packages (from ${relative(process.cwd(), fromDir) || '.'} and the folders above it):\n` : '\nno plugin packages installed (npm install <package>; they have the keyword sluice-plugin)\n');
    for (const pkg of packages) {
      const range = pkg.coreRange === undefined ? 'declares no @sluice/core range' : `@sluice/core ${pkg.coreRange}: ${pkg.fits === true ? `fits ${CORE_VERSION}` : pkg.fits === false ? `does not fit ${CORE_VERSION}` : 'not a version range, not checked'}`;
      out.write(`${pkg.name}${pkg.version ? ` ${pkg.version}` : ''}  ${range}${pkg.from === 'plugins:' ? '  (named in plugins:)' : ''}\n  ${pkg.path}\n`);
      for (const problem of pkg.problems) out.write(`  problem: ${problem}\n`);
      for (const p of registered.filter((r) => r.origin === pkg.name)) out.write(pluginText(p));
    }
  }
  return packages.some((p) => p.problems.length > 0) ? 1 : 0;
}

/** A package (or a module path) as the job would load it: its version, range, plugins, problems. */
async function inspect(spec: string, from: PackageReport['from'], fromDir: string): Promise<{ package: PackageReport; plugins: Array<RegisteredPlugin & { version?: string }> }> {
  const found = isModulePath(spec) ? undefined : findPackage(spec, fromDir);
  const report: PackageReport = {
    name: found?.name ?? spec,
    ...(found?.version ? { version: found.version } : {}),
    path: found ? relative(process.cwd(), found.dir) : spec,
    from,
    ...(found?.coreRange ? { coreRange: found.coreRange } : {}),
    fits: coreFits(found?.coreRange, CORE_VERSION) ?? null,
    plugins: [],
    problems: [],
  };
  if (!isModulePath(spec) && !found) {
    report.problems.push(`not installed: run npm install ${spec}`);
    return { package: report, plugins: [] };
  }
  if (report.fits === false) {
    report.problems.push(`needs @sluice/core ${found!.coreRange}, but this sluice runs @sluice/core ${CORE_VERSION}; install a release of ${report.name} built for it`);
    return { package: report, plugins: [] };
  }
  const registry = new PluginRegistry();
  try {
    const loaded = await loadPluginModule(spec, fromDir);
    // A package of checkpoint stores only (or of plugins still to come) exports an empty list: no mistake.
    if (!(Array.isArray(loaded.exported) && loaded.exported.length === 0)) report.problems.push(...registry.add(loaded.exported, loaded.origin).map((p) => p.message));
  } catch (error) {
    report.problems.push((error as Error).message);
  }
  const plugins = registry.all().map((p) => ({ ...p, origin: report.name, ...(report.version ? { version: report.version } : {}) }));
  report.plugins = plugins.map((p) => ({ name: p.definition.name, kind: p.definition.kind }));
  return { package: report, plugins };
}

/** The strings of a job file's `plugins:` list (nothing when the file cannot be read as YAML). */
function jobPlugins(file: string): string[] {
  const { value } = parseYaml(readFileSync(file, 'utf8'), file);
  const list = (value as { plugins?: unknown } | undefined)?.plugins;
  return Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : [];
}

function pluginText({ definition }: RegisteredPlugin): string {
  const schema = definition.schema as { properties?: Record<string, { description?: string; default?: unknown }>; required?: string[] };
  const required = new Set(schema.required ?? []);
  const lines = [`  ${definition.name} (${definition.kind}) — ${definition.description}`];
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const dflt = prop.default !== undefined ? ` (default ${JSON.stringify(prop.default)})` : required.has(key) ? ' (required)' : '';
    lines.push(`      ${key.padEnd(14)} ${prop.description ?? ''}${dflt}`);
  }
  return `${lines.join('\n')}\n`;
}
