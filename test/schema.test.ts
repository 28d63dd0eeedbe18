import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { editorSchema } from '@sluice/core/internal';
import { builtInRegistry } from '../packages/cli/src/builtins.js';
import { ROOT, sluice, tempDir } from './support/cli.js';

const generated = editorSchema(builtInRegistry());

describe('sluice.schema.json (for editors)', () => {
  it('is committed and matches what `sluice schema` generates (run `pnpm schema` after changing a plugin schema)', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'sluice.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(generated)));
  });

  it('compiles with ajv, accepts every example job and rejects a wrong plugin option', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(generated);
    const jobs = readdirSync(join(ROOT, 'jobs')).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'));
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    for (const file of jobs) {
      const job = parse(readFileSync(join(ROOT, 'jobs', file), 'utf8'));
      expect(validate(job), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const bad = parse(readFileSync(join(ROOT, 'jobs/hello.yaml'), 'utf8'));
    bad.steps[1].with = { wher: 'record.a > 1' };
    expect(validate(bad)).toBe(false);
    bad.steps[1].with = { where: 'record.a > 1' };
    bad.sink.with = { path: 'x.jsonl', format: 'xml' };
    expect(validate(bad)).toBe(false);
  });
});

describe('the editor schema rejects what `sluice validate` rejects (structure and plugin options)', () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(generated);
  const hello = readFileSync(join(ROOT, 'jobs/hello.yaml'), 'utf8');

  // [case, a change to jobs/hello.yaml]
  const bad: Array<[string, (text: string) => string]> = [
    ['unknown top-level key', (t) => t.replace('version: 1', 'version: 1\nbach: { size: 10 }')],
    ['wrong version', (t) => t.replace('version: 1', 'version: 2')],
    ['bad job name', (t) => t.replace('name: hello', 'name: Hello World')],
    ['no source', (t) => t.replace(/source:\n(  .*\n)+/, '')],
    ['unknown step key', (t) => t.replace('  - id: active', '  - id: active\n    concurency: 4')],
    ['unknown transform plugin', (t) => t.replace('use: filter', 'use: filtr')],
    ['a source plugin used as a transform', (t) => t.replace('use: filter', 'use: file')],
    ['unknown plugin option', (t) => t.replace('{ where: record.status', '{ wher: record.status')],
    ['missing required plugin option', (t) => t.replace("with: { where: record.status == 'active' }", 'with: {}')],
    ['missing with for a plugin that requires options', (t) => t.replace("    with: { where: record.status == 'active' }\n", '')],
    ['plugin option of the wrong type', (t) => t.replace('remove: [first_name, last_name]', 'remove: first_name')],
    ['plugin option outside its enum', (t) => t.replace('with: { path: out/users.jsonl }', 'with: { path: out/users.jsonl, format: xml }')],
    ['batch size not a number', (t) => t.replace('version: 1', 'version: 1\nbatch: { size: many }')],
    ['bad onError', (t) => t.replace('onError: deadLetter             #', 'onError: ignore             #')],
    ['unknown dead-letter option', (t) => t.replace('with: { path: out/hello.rejects.jsonl }', 'with: { pth: out/hello.rejects.jsonl }')],
    ['sink and sinks mixed up: unknown option in a fan-out sink', (t) => t.replace('sink:\n  use: file\n  with: { path: out/users.jsonl }', 'sinks:\n  - use: file\n    with: { path: out/users.jsonl, gzip: yes }')],
  ];

  it.each(bad)('%s', (_name, change) => {
    const text = change(hello);
    expect(text, 'the change applies').not.toBe(hello);
    expect(validate(parse(text))).toBe(false);
  });

  it('carries descriptions and defaults for completion, and offers each plugin name for use:', () => {
    const schema = generated as any;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.properties.batch.properties.size).toMatchObject({ default: 1000, description: expect.any(String) });
    const uses = schema.properties.steps.items.properties.use.anyOf.map((u: { const?: string }) => u.const).filter(Boolean);
    expect(uses).toEqual(expect.arrayContaining(['dedupe', 'filter', 'map', 'validate']));
    expect(uses).not.toContain('file');
    const filter = schema.properties.steps.items.allOf.find((c: any) => c.if.properties.use.const === 'filter');
    expect(filter.then.properties.with.properties.where.description).toEqual(expect.any(String));
    expect(filter.then.required).toEqual(['with']);
    for (const rule of [...schema.properties.source.allOf, ...schema.properties.steps.items.allOf, ...schema.properties.sink.allOf]) {
      for (const [key, option] of Object.entries<any>(rule.then.properties.with.properties ?? {})) {
        expect(option.description, `${rule.if.properties.use.const}.${key}`).toEqual(expect.any(String));
      }
    }
  });
});

describe('sluice schema with installed plugins', () => {
  it("adds each installed plugin's options, selected by use:", async () => {
    const dir = tempDir('sluice-schema-');
    const pkg = join(dir, 'node_modules/@acme/sluice-plugin-score');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/sluice-plugin-score', version: '1.0.0', type: 'module', main: 'index.js', keywords: ['sluice-plugin'], peerDependencies: { '@sluice/core': '^0.1.0' } }));
    writeFileSync(
      join(pkg, 'index.js'),
      `export default { name: 'score', kind: 'transform', apiVersion: 1, description: 'Adds a risk score', create: () => ({ process: (r) => r }),
        schema: { type: 'object', properties: { field: { type: 'string', description: 'Where the score goes.', default: 'score' }, weight: { type: 'number', minimum: 0 } }, additionalProperties: false } };\n`,
    );
    // A package without the keyword is not a plugin and stays out.
    mkdirSync(join(dir, 'node_modules/left-pad'));
    writeFileSync(join(dir, 'node_modules/left-pad/package.json'), JSON.stringify({ name: 'left-pad', version: '1.0.0' }));

    const result = await sluice(['schema', '--from', dir]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout);
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    const job = parse(readFileSync(join(ROOT, 'jobs/hello.yaml'), 'utf8'));
    job.plugins = ['@acme/sluice-plugin-score'];
    job.steps.push({ use: 'score', with: { field: 'risk', weight: 2 } });
    expect(validate(job), JSON.stringify(validate.errors)).toBe(true);
    job.steps[3].with = { field: 'risk', weight: -1 };
    expect(validate(job)).toBe(false);
    job.steps[3].with = { feild: 'risk' };
    expect(validate(job)).toBe(false);
    const score = schema.properties.steps.items.allOf.find((c: any) => c.if.properties.use.const === 'score');
    expect(score.then.properties.with).toMatchObject({ description: 'Adds a risk score', properties: { field: { default: 'score' } } });

    const builtinsOnly = await sluice(['schema', '--from', dir, '--builtins-only']);
    expect(JSON.parse(builtinsOnly.stdout)).toEqual(JSON.parse(JSON.stringify(generated)));
  });
});
