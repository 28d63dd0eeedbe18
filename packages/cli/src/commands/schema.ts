import { usage } from '../args.js';
import { writeFile } from 'node:fs/promises';
import { editorSchema } from '@sluice/core/internal';
import { parse } from '../args.js';
import { builtInRegistry } from '../builtins.js';

const USAGE = `usage: sluice schema [--out FILE]

Prints the JSON Schema of job files, built-in plugins' options included, for editors.
Point yaml-language-server at it with a first line of:
  # yaml-language-server: $schema=../sluice.schema.json`;

export async function run(argv: string[]): Promise<number> {
  const { values, help } = parse(argv, { out: { type: 'string' } }, USAGE);
  if (help) return usage(USAGE);
  const text = `${JSON.stringify(editorSchema(builtInRegistry()), null, 2)}\n`;
  if (values.out) await writeFile(values.out, text);
  else process.stdout.write(text);
  return 0;
}
