import { usage } from '../args.js';
import { parse } from '../args.js';
import { builtInRegistry } from '../builtins.js';

const USAGE = `usage: sluice plugins [--json]

Lists the built-in plugins, their kinds and options.`;

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parse(argv, { json: { type: 'boolean' } }, USAGE);
  if (help) return usage(USAGE);
  const plugins = builtInRegistry()
    .all()
    .map(({ definition, origin }) => ({ name: definition.name, kind: definition.kind, description: definition.description, package: origin, schema: definition.schema }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(plugins, null, 2)}\n`);
    return 0;
  }
  for (const p of plugins) {
    process.stdout.write(`${p.name} (${p.kind}) — ${p.description}\n`);
    const props = ((p.schema as { properties?: Record<string, { description?: string; default?: unknown }> }).properties) ?? {};
    const required = new Set(((p.schema as { required?: string[] }).required) ?? []);
    for (const [key, prop] of Object.entries(props)) {
      const dflt = prop.default !== undefined ? ` (default ${JSON.stringify(prop.default)})` : required.has(key) ? ' (required)' : '';
      process.stdout.write(`    ${key.padEnd(14)} ${prop.description ?? ''}${dflt}\n`);
    }
  }
  return 0;
}
