import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir } from './support/cli.js';
import { sh, stopwatch } from './support/npm.js';

/**
 * The whole publish path of a plugin, without a registry: `sluice new plugin`, build and test it,
 * `npm pack` it (and @sluice/core: tarballs stand in for a registry), install the tarballs into a
 * fresh project next to a job that names the plugin, then `sluice validate` and `sluice run` it.
 * The example plugin (examples/plugin-jsonata) goes the same way, its own tests included.
 */

const tarball = (dir: string, prefix: string) => join(dir, readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.tgz'))!);

describe('a plugin, from `sluice new plugin` to a job that runs it', () => {
  const tmp = tempDir('sluice-publish-');
  const packs = join(tmp, 'packs');
  const project = join(tmp, 'project');
  let coreTgz: string;
  const { timings, timed } = stopwatch();

  beforeAll(async () => {
    mkdirSync(packs);
    await timed('pack core', () => sh('npm', ['pack', join(ROOT, 'packages/core'), '--pack-destination', packs], tmp));
    coreTgz = tarball(packs, 'sluice-core-');
  }, 180_000);

  it('scaffolds, builds, tests and packs a plugin and the example; a fresh project validates and runs a job with both', async () => {
    const scaffold = await sluice(['new', 'plugin', 'sluice-plugin-shout', '--kind', 'transform'], { cwd: tmp });
    expect(scaffold.code, scaffold.stderr).toBe(0);
    const plugin = join(tmp, 'sluice-plugin-shout');
    for (const f of ['package.json', 'tsconfig.json', 'README.md', 'src/index.ts', 'src/index.test.ts']) expect(existsSync(join(plugin, f)), f).toBe(true);
    const manifest = JSON.parse(readFileSync(join(plugin, 'package.json'), 'utf8'));
    expect(manifest.keywords).toContain('sluice-plugin');
    expect(manifest.peerDependencies).toEqual({ '@sluice/core': '^0.1.0' });

    const example = join(tmp, 'plugin-jsonata');
    const source = join(ROOT, 'examples/plugin-jsonata');
    cpSync(source, example, { recursive: true, filter: (src) => !/^(node_modules|dist)\b|\.tgz$|package-lock/.test(relative(source, src)) });

    // The scaffold and the example, side by side: install (typescript from the registry, @sluice/core
    // from its tarball, as a registry would give it), build, run their own tests, pack.
    const build = async (dir: string, label: string) => {
      await timed(`${label}: npm install`, () => sh('npm', ['install', '--no-save', '--prefer-offline', coreTgz], dir));
      const test = await timed(`${label}: npm test`, () => sh('npm', ['test'], dir));
      expect(test).toMatch(/# fail 0/);
      expect(test).toMatch(/# pass [1-9]/);
      await timed(`${label}: npm pack`, () => sh('npm', ['pack', '--pack-destination', packs], dir));
    };
    await Promise.all([build(plugin, 'scaffold'), build(example, 'example')]);
    const shoutTgz = tarball(packs, 'sluice-plugin-shout-');
    const jsonataTgz = tarball(packs, 'sluice-plugin-jsonata-');
    const listing = await sh('tar', ['tzf', shoutTgz], tmp);
    expect(listing).toContain('package/dist/index.js');
    expect(listing).toContain('package/dist/index.d.ts');
    expect(listing).not.toContain('index.test');
    expect(listing).not.toContain('package/src/');

    // A fresh project: the tarballs stand in for the registry.
    mkdirSync(join(project, 'jobs/data'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'project', private: true, type: 'module' }));
    await timed('project: npm install', () => sh('npm', ['install', '--prefer-offline', coreTgz, shoutTgz, jsonataTgz], project));
    writeFileSync(
      join(project, 'jobs/data/orders.jsonl'),
      ['{"id":1,"name":"ada","items":[{"price":2.5,"qty":2}]}', '{"id":2,"name":"alan","items":[{"price":1,"qty":1}]}', '{"id":3,"name":"grace","items":[{"price":10,"qty":3}]}'].join('\n') + '\n',
    );
    writeFileSync(
      join(project, 'jobs/orders.yaml'),
      `# yaml-language-server: $schema=../sluice.schema.json
version: 1
name: orders
plugins:
  - sluice-plugin-shout
  - sluice-plugin-jsonata
source:
  use: file
  with: { path: data/orders.jsonl }
steps:
  - use: shout
    with: { field: greeting, value: "'hello ' + record.name" }
  - use: jsonata
    with: { expression: "$sum(items.(price * qty))", into: total }
  - use: jsonata
    with:
      expression: '$[total > 2].{ "id": id, "greeting": greeting, "gross": total * $rate }'
      bindings: { rate: 2 }
sink:
  use: file
  with: { path: out/orders.jsonl }
`,
    );

    const validate = await sluice(['validate', 'jobs/orders.yaml'], { cwd: project });
    expect(validate.stdout + validate.stderr).toBe('jobs/orders.yaml: ok\n1 file: 1 valid, 0 invalid\n');
    expect(validate.code).toBe(0);

    const run = await sluice(['run', 'jobs/orders.yaml', '--progress', 'none'], { cwd: project });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('read 3 = written 2 + filtered 1 + dead-lettered 0 + skipped 0');
    const written = readFileSync(join(project, 'jobs/out/orders.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(written).toEqual([
      { id: 1, greeting: 'hello ada', gross: 10 },
      { id: 3, greeting: 'hello grace', gross: 60 },
    ]);

    // The installed plugins' options join the editor schema, selected by use:.
    const schema = await sluice(['schema', '--out', 'sluice.schema.json'], { cwd: project });
    expect(schema.code, schema.stderr).toBe(0);
    const validateSchema = new Ajv({ strict: false, allErrors: true }).compile(JSON.parse(readFileSync(join(project, 'sluice.schema.json'), 'utf8')));
    const job = parse(readFileSync(join(project, 'jobs/orders.yaml'), 'utf8'));
    expect(validateSchema(job), JSON.stringify(validateSchema.errors)).toBe(true);
    job.steps[1].with = { expresion: 'x' };
    expect(validateSchema(job)).toBe(false);

    const total = Object.values(timings).reduce((a, b) => a + b, 0);
    console.log(`publish path timings (ms, the two builds run side by side): ${JSON.stringify(timings)}; sum ${total}`);
  }, 240_000);
});
