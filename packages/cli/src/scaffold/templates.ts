/** The files of a new plugin package, by kind. Each one builds and passes its test as written. */

export type ScaffoldKind = 'source' | 'transform' | 'sink';

export interface ScaffoldOptions {
  /** The npm package name (`sluice-plugin-geoip`, `@acme/sluice-plugin-geoip`). */
  readonly packageName: string;
  /** The name jobs use (`use: geoip`). */
  readonly pluginName: string;
  readonly kind: ScaffoldKind;
  /** The range of `@sluice/core` the plugin is built for (`^0.1.0`). */
  readonly coreRange: string;
  /** The devDependency spec for `@sluice/core` (the range, or a path/tarball before it is published). */
  readonly coreSpec: string;
}

/** Relative path → contents. */
export function scaffoldFiles(o: ScaffoldOptions): Record<string, string> {
  return {
    'package.json': packageJson(o),
    'tsconfig.json': TSCONFIG,
    '.gitignore': 'node_modules/\ndist/\n*.tgz\n',
    'src/index.ts': SOURCES[o.kind](o),
    'src/index.test.ts': TESTS[o.kind](o),
    'README.md': readme(o),
  };
}

const DESCRIPTIONS: Record<ScaffoldKind, (name: string) => string> = {
  source: (name) => `Reads numbered records (replace with your source): use: ${name}`,
  transform: (name) => `Sets a field from an expression (replace with your transform): use: ${name}`,
  sink: (name) => `Writes records as JSON Lines to a file, exactly once (replace with your sink): use: ${name}`,
};

function packageJson(o: ScaffoldOptions): string {
  const pkg = {
    name: o.packageName,
    version: '0.1.0',
    description: `A Sluice ${o.kind} plugin. ${DESCRIPTIONS[o.kind](o.pluginName)}`,
    type: 'module',
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: { '.': { types: './dist/index.d.ts', default: './dist/index.js' } },
    files: ['dist', '!dist/**/*.test.*'],
    keywords: ['sluice-plugin', 'sluice', o.kind],
    engines: { node: '>=20.11' },
    scripts: {
      build: 'tsc -p tsconfig.json',
      test: 'tsc -p tsconfig.json && node --test',
      prepack: 'tsc -p tsconfig.json',
    },
    peerDependencies: { '@sluice/core': o.coreRange },
    devDependencies: { '@sluice/core': o.coreSpec, '@types/node': '^20.9.5', typescript: '~5.9.3' },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const TSCONFIG = `${JSON.stringify(
  {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2023'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      declaration: true,
      sourceMap: true,
      rootDir: 'src',
      outDir: 'dist',
      skipLibCheck: true,
      types: ['node'],
    },
    include: ['src'],
  },
  null,
  2,
)}\n`;

const SOURCES: Record<ScaffoldKind, (o: ScaffoldOptions) => string> = {
  transform: (o) => `import { defineTransform, type ConfigOf, type SluiceRecord } from '@sluice/core';

/** The options of \`use: ${o.pluginName}\`: \`sluice validate\` checks them, editors complete them. */
export const schema = {
  type: 'object',
  properties: {
    field: {
      type: 'string',
      minLength: 1,
      description: 'The field to set on each record.',
      default: '${o.pluginName}',
      examples: ['greeting'],
    },
    value: {
      type: 'string',
      expression: true,
      description: 'An expression over \`record\` (and \`env\`, \`job\`); its value goes into \`field\`.',
      examples: ["'hello ' + record.name"],
    },
  },
  required: ['value'],
  additionalProperties: false,
} as const;

/** The config \`create\` receives, inferred from the schema. */
export type Config = ConfigOf<typeof schema>;

const plugin = defineTransform({
  name: '${o.pluginName}',
  description: 'Sets a field from an expression.',
  schema,
  create(config: Config, ctx) {
    const value = ctx.expression(config.value);
    const field = config.field ?? '${o.pluginName}';
    return {
      // Return a record, an array of records, or null to drop it. Throw a RecordError for a record
      // that will never pass (it is not retried); anything else thrown is retried.
      process: (record: SluiceRecord) => ({ ...record, [field]: value.evaluate(record) }),
    };
  },
});

export default plugin;
`,
  source: (o) => `import { defineSource, type ConfigOf, type SluiceRecord, type SourcePage } from '@sluice/core';

/** The options of \`use: ${o.pluginName}\`: \`sluice validate\` checks them, editors complete them. */
export const schema = {
  type: 'object',
  properties: {
    count: {
      type: 'integer',
      minimum: 0,
      description: 'How many records to read.',
      default: 10,
      examples: [1000],
    },
  },
  additionalProperties: false,
} as const;

/** The config \`create\` receives, inferred from the schema. */
export type Config = ConfigOf<typeof schema>;

const plugin = defineSource({
  name: '${o.pluginName}',
  description: 'Reads records numbered from 1 to count.',
  schema,
  create(config: Config) {
    const count = config.count ?? 10;
    return {
      // Pages of at most batchSize records; the cursor says where the next page starts, and the
      // engine hands back the cursor of the last checkpointed page when a run resumes.
      async *read({ cursor, batchSize, signal }): AsyncGenerator<SourcePage> {
        let next = typeof cursor === 'number' ? cursor : 1;
        while (next <= count && !signal.aborted) {
          const records: SluiceRecord[] = [];
          for (; next <= count && records.length < batchSize; next++) records.push({ id: next });
          yield { records, cursor: next, positions: records.map((r) => ({ id: r.id })) };
        }
      },
      estimate: async () => ({ total: count, unit: 'records' as const }),
    };
  },
});

export default plugin;
`,
  sink: (o) => `import { open, readFile, type FileHandle } from 'node:fs/promises';
import { defineSink, type ConfigOf, type SluiceRecord } from '@sluice/core';

/** The options of \`use: ${o.pluginName}\`: \`sluice validate\` checks them, editors complete them. */
export const schema = {
  type: 'object',
  properties: {
    path: {
      type: 'string',
      minLength: 1,
      description: "The JSON Lines file to write, relative to the job file's folder.",
      examples: ['out/records.jsonl'],
    },
  },
  required: ['path'],
  additionalProperties: false,
} as const;

/** The config \`create\` receives, inferred from the schema. */
export type Config = ConfigOf<typeof schema>;

const plugin = defineSink({
  name: '${o.pluginName}',
  description: 'Writes records as JSON Lines, exactly once across crashes and resumes.',
  schema,
  // What it promises across a crash and a resume, and that its lines keep the order written:
  // \`sluice crash-test\` and \`crashTest\` judge it by these.
  guarantee: 'exactly-once',
  ordered: true,
  // The records it durably holds, for crash tests only.
  async readBack(config: Config, ctx) {
    const text = await readFile(ctx.resolvePath(config.path), 'utf8').catch(() => '');
    return text.split('\\n').filter(Boolean).map((line) => JSON.parse(line) as SluiceRecord);
  },
  async create(config: Config, ctx) {
    const path = ctx.resolvePath(config.path);
    if (ctx.job.dryRun) return { write: async () => undefined };
    // On a resume, ctx.state is the size this sink reported with the last checkpoint: cut what a
    // crashed run wrote after it. On a fresh start, start empty.
    const saved = (ctx.state as { size?: number } | undefined)?.size ?? 0;
    const file: FileHandle = await open(path, 'a');
    await file.truncate(saved);
    let size = saved;
    return {
      async write(records: SluiceRecord[]) {
        const text = Buffer.from(records.map((r) => \`\${JSON.stringify(r)}\\n\`).join(''));
        await file.write(text);
        size += text.length;
      },
      state: () => ({ size }),
      flush: () => file.sync(),
      close: () => file.close(),
    };
  },
});

export default plugin;
`,
};

const TESTS: Record<ScaffoldKind, (o: ScaffoldOptions) => string> = {
  transform: (o) => `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig, runTransform } from '@sluice/core';
import plugin from './index.js';

test('sets the field from the expression', async () => {
  const out = await runTransform(plugin, { field: 'greeting', value: "'hello ' + record.name" }, [{ name: 'Ada' }]);
  assert.deepEqual(out, [{ name: 'Ada', greeting: 'hello Ada' }]);
});

test('uses the default field', async () => {
  const out = await runTransform(plugin, { value: 'record.n * 2' }, [{ n: 21 }]);
  assert.deepEqual(out, [{ n: 21, '${o.pluginName}': 42 }]);
});

test('its schema refuses a job without value, or with a broken expression', () => {
  assert.deepEqual(checkConfig(plugin, {}), [{ path: '', message: "missing required key 'value'" }]);
  assert.equal(checkConfig(plugin, { value: 'record.' }).length, 1);
});
`,
  source: () => `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkConfig, collectSource } from '@sluice/core';
import plugin from './index.js';

test('reads count records in pages of batchSize', async () => {
  const pages = await collectSource(plugin, { count: 5 }, { batchSize: 2 });
  assert.deepEqual(pages.map((p) => p.records.map((r) => r.id)), [[1, 2], [3, 4], [5]]);
});

test('resumes after the cursor of the last checkpointed page', async () => {
  const pages = await collectSource(plugin, { count: 5 }, { batchSize: 2, cursor: 3 });
  assert.deepEqual(pages.flatMap((p) => p.records), [{ id: 3 }, { id: 4 }, { id: 5 }]);
});

test('its schema refuses a negative count', () => {
  assert.equal(checkConfig(plugin, { count: -1 }).length, 1);
});
`,
  sink: () => `import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkConfig, writeSink } from '@sluice/core';
import { crashTest, formatCrashReport } from '@sluice/core/testing';
import plugin from './index.js';

test('writes each batch as JSON Lines and reports its size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sink-test-'));
  const { state } = await writeSink(plugin, { path: 'out.jsonl' }, [[{ id: 1 }], [{ id: 2 }]], { dir });
  assert.equal(readFileSync(join(dir, 'out.jsonl'), 'utf8'), '{"id":1}\\n{"id":2}\\n');
  assert.deepEqual(state, { size: 18 });
});

test('a resume cuts what was written after the checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sink-test-'));
  await writeSink(plugin, { path: 'out.jsonl' }, [[{ id: 1 }], [{ id: 2 }]], { dir });
  await writeSink(plugin, { path: 'out.jsonl' }, [[{ id: 3 }]], { dir, state: { size: 9 } });
  assert.equal(readFileSync(join(dir, 'out.jsonl'), 'utf8'), '{"id":1}\\n{"id":3}\\n');
});

test('its schema needs a path', () => {
  assert.deepEqual(checkConfig(plugin, {}), [{ path: '', message: "missing required key 'path'" }]);
});

test('keeps its guarantee when killed at every fault point and resumed (crashTest)', async () => {
  const records = Array.from({ length: 40 }, (_, i) => ({ id: i + 1 }));
  const report = await crashTest({ module: new URL('./index.js', import.meta.url), sink: { config: { path: 'out.jsonl' } }, records });
  assert.ok(report.passed, formatCrashReport(report));
  assert.ok(report.scenarios.some((s) => s.crashes.length > 0), 'no run was killed');
});
`,
};

function readme(o: ScaffoldOptions): string {
  const example: Record<ScaffoldKind, string> = {
    source: `source:\n  use: ${o.pluginName}\n  with: { count: 100 }\nsink:\n  use: file\n  with: { path: out/records.jsonl }`,
    transform: `source:\n  use: file\n  with: { path: data/users.jsonl }\nsteps:\n  - use: ${o.pluginName}\n    with: { field: greeting, value: "'hello ' + record.name" }\nsink:\n  use: file\n  with: { path: out/users.jsonl }`,
    sink: `source:\n  use: file\n  with: { path: data/users.jsonl }\nsink:\n  use: ${o.pluginName}\n  with: { path: out/users.jsonl }`,
  };
  return `# ${o.packageName}

A Sluice ${o.kind} plugin. ${DESCRIPTIONS[o.kind](o.pluginName)}

## Use it in a job

\`\`\`sh
npm install ${o.packageName}
\`\`\`

\`\`\`yaml
version: 1
name: example
plugins:
  - ${o.packageName.startsWith('@') ? JSON.stringify(o.packageName) : o.packageName}
${example[o.kind]}
\`\`\`

\`sluice plugins\`, \`sluice validate\` and \`sluice schema\` (editor completion) know its options
once it is installed next to the job.

## Develop

\`\`\`sh
npm install        # @sluice/core is a peer and dev dependency
npm test           # builds with tsc, then runs src/*.test.ts with node --test
npm pack           # the package as it would be published: dist/ without the tests
\`\`\`

It is built for \`@sluice/core\` ${o.coreRange} (\`peerDependencies\`): Sluice refuses to load it
with a core outside that range, and says which versions fit. Raise the range when you have
tested a newer core.

- \`src/index.ts\` — the plugin: its JSON Schema (every option with a description, and a default
  or required) and \`create\`, which returns the instance the engine calls.
- \`src/index.test.ts\` — tests with the helpers from \`@sluice/core\`: \`runTransform\`,
  \`collectSource\`, \`writeSink\`, \`checkConfig\`, \`createTestContext\`; a sink also proves its
  resume with \`crashTest\` from \`@sluice/core/testing\` (killed at every fault point, resumed, compared).
`;
}
