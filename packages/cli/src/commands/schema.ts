import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { editorSchema, loadPluginModule, type PluginRegistry } from '@sluice/core/internal';
import { parse, usage } from '../args.js';
import { builtInRegistry } from '../builtins.js';
import { pluginPackagesIn } from '../installed.js';

const USAGE = `usage: sluice schema [--out FILE] [options]

  --out FILE          write the schema to FILE instead of printing it
  --plugin NAME       also include this plugin package or module (repeatable)
  --from DIR          find installed plugins in DIR/node_modules (default: the current folder)
  --builtins-only     only the built-in plugins (what sluice.schema.json in the repository holds)

Prints one JSON Schema for job files: the job structure, and each plugin's options selected by
its use: name, with descriptions and defaults. Installed plugins are the packages in
node_modules whose package.json has the keyword sluice-plugin. Point yaml-language-server
(VS Code YAML) at it with a first line of:
  # yaml-language-server: $schema=../sluice.schema.json`;

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parse(
    argv,
    { out: { type: 'string' }, plugin: { type: 'string', multiple: true }, from: { type: 'string' }, 'builtins-only': { type: 'boolean' } },
    USAGE,
  );
  if (help) return usage(USAGE);
  const registry = builtInRegistry();
  let failed = false;
  if (!values['builtins-only']) {
    const from = resolve(values.from ?? '.');
    const builtIn = new Set(registry.all().map((p) => p.origin));
    const specs = [...installedPlugins(from).filter((name) => !builtIn.has(name)), ...(values.plugin ?? [])];
    for (const spec of [...new Set(specs)]) {
      const explicit = (values.plugin ?? []).includes(spec);
      const problems = await addPlugin(registry, spec, from);
      for (const p of problems) process.stderr.write(`sluice schema: ${explicit ? '' : 'warning: '}${spec}: ${p}\n`);
      if (problems.length && explicit) failed = true;
    }
  }
  if (failed) return 2;
  const text = `${JSON.stringify(editorSchema(registry), null, 2)}\n`;
  if (values.out) await writeFile(values.out, text);
  else process.stdout.write(text);
  return 0;
}

async function addPlugin(registry: PluginRegistry, spec: string, from: string): Promise<string[]> {
  try {
    const loaded = await loadPluginModule(spec, from);
    // A package of plugins still to come (an empty list) adds nothing and is no mistake.
    if (Array.isArray(loaded.exported) && loaded.exported.length === 0) return [];
    return [...loaded.warnings, ...registry.add(loaded.exported, loaded.origin).map((p) => p.message)];
  } catch (error) {
    return [(error as Error).message];
  }
}

/** Names of the packages in `dir/node_modules` (scopes included) whose package.json has the keyword `sluice-plugin`. */
export function installedPlugins(dir: string): string[] {
  return pluginPackagesIn(join(dir, 'node_modules')).map((p) => p.name);
}
