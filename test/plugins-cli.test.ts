import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir } from './support/cli.js';

/** A plugin package in `modules`: a transform named `name`, built for the @sluice/core `range`. */
function plugin(modules: string, pkg: string, name: string, range: string | undefined, version = '1.2.3'): void {
  const dir = join(modules, pkg);
  mkdirSync(dir, { recursive: true });
  const manifest = { name: pkg, version, type: 'module', main: 'index.js', keywords: ['sluice-plugin'], ...(range ? { peerDependencies: { '@sluice/core': range } } : {}) };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  writeFileSync(
    join(dir, 'index.js'),
    `import { defineTransform } from '@sluice/core';
export default defineTransform({ name: '${name}', description: 'Adds ${name}', schema: { type: 'object', properties: { field: { type: 'string', description: 'Where it goes', default: '${name}' } }, additionalProperties: false }, create: () => ({ process: (r) => r }) });
`,
  );
}

describe('sluice plugins', () => {
  // project/node_modules: a plugin that fits, one built for another core, one without a range;
  // the folder above holds one more; the job names one that is not installed and a local module.
  const top = tempDir('sluice-plugins-');
  const project = join(top, 'project');
  mkdirSync(join(project, 'node_modules/@sluice'), { recursive: true });
  mkdirSync(join(top, 'node_modules/@sluice'), { recursive: true });
  symlinkSync(join(ROOT, 'packages/core'), join(project, 'node_modules/@sluice/core'));
  symlinkSync(join(ROOT, 'packages/core'), join(top, 'node_modules/@sluice/core'));
  plugin(join(project, 'node_modules'), '@acme/sluice-plugin-shout', 'shout', '^0.1.0');
  plugin(join(project, 'node_modules'), 'sluice-plugin-old', 'old', '^2.0.0', '2.4.0');
  plugin(join(project, 'node_modules'), 'sluice-plugin-loose', 'loose', undefined);
  plugin(join(top, 'node_modules'), 'sluice-plugin-above', 'above', '>=0.1.0 <1');
  // A built-in package (it comes with the CLI) is not listed; a package of checkpoint stores only is, without a problem.
  for (const pkg of ['@sluice/plugin-redis', 'sluice-plugin-stores']) {
    mkdirSync(join(project, 'node_modules', pkg));
    writeFileSync(join(project, 'node_modules', pkg, 'package.json'), JSON.stringify({ name: pkg, version: '0.1.0', type: 'module', main: 'index.js', keywords: ['sluice-plugin'], peerDependencies: { '@sluice/core': '^0.1.0' } }));
    writeFileSync(join(project, 'node_modules', pkg, 'index.js'), 'export default [];\nexport const checkpointStores = {};\n');
  }
  mkdirSync(join(project, 'node_modules/not-a-plugin'));
  writeFileSync(join(project, 'node_modules/not-a-plugin/package.json'), '{"name":"not-a-plugin","version":"1.0.0"}');
  mkdirSync(join(project, 'jobs'));
  writeFileSync(join(project, 'jobs/local.mjs'), `export { default } from '${join(project, 'node_modules/@acme/sluice-plugin-shout/index.js')}';\n`);
  writeFileSync(join(project, 'jobs/job.yaml'), 'version: 1\nname: job\nplugins: [sluice-plugin-above, sluice-plugin-missing, ./local.mjs]\nsource: { use: file, with: { path: in.jsonl } }\nsink: { use: file, with: { path: out.jsonl } }\n');

  it('lists installed packages from the job folder upward and the job’s plugins:, with versions, kinds and whether their core range fits', async () => {
    const listed = await sluice(['plugins', 'jobs/job.yaml', '--json'], { cwd: project });
    expect(listed.code, listed.stderr).toBe(1);
    const { core, plugins, packages } = JSON.parse(listed.stdout);
    expect(core).toBe('0.1.0');
    const byName = Object.fromEntries(packages.map((p: { name: string }) => [p.name, p]));
    expect(Object.keys(byName)).toEqual(['@acme/sluice-plugin-shout', 'sluice-plugin-above', 'sluice-plugin-loose', 'sluice-plugin-old', 'sluice-plugin-stores', 'sluice-plugin-missing', './local.mjs']);
    expect(byName['sluice-plugin-stores']).toMatchObject({ fits: true, plugins: [], problems: [] });
    expect(byName['@acme/sluice-plugin-shout']).toEqual({
      name: '@acme/sluice-plugin-shout',
      version: '1.2.3',
      path: join('node_modules', '@acme/sluice-plugin-shout'),
      from: 'installed',
      coreRange: '^0.1.0',
      fits: true,
      plugins: [{ name: 'shout', kind: 'transform' }],
      problems: [],
    });
    expect(byName['sluice-plugin-above']).toMatchObject({ from: 'plugins:', path: join('..', 'node_modules', 'sluice-plugin-above'), fits: true, plugins: [{ name: 'above', kind: 'transform' }] });
    expect(byName['sluice-plugin-loose']).toMatchObject({ fits: null, plugins: [{ name: 'loose', kind: 'transform' }], problems: [] });
    expect(byName['sluice-plugin-loose'].coreRange).toBeUndefined();
    expect(byName['sluice-plugin-old']).toMatchObject({
      version: '2.4.0',
      fits: false,
      plugins: [],
      problems: ['needs @sluice/core ^2.0.0, but this sluice runs @sluice/core 0.1.0; install a release of sluice-plugin-old built for it'],
    });
    expect(byName['sluice-plugin-missing']).toMatchObject({ problems: ['not installed: run npm install sluice-plugin-missing'] });
    expect(byName['./local.mjs']).toMatchObject({ from: 'plugins:', plugins: [{ name: 'shout', kind: 'transform' }], problems: [] });
    expect(plugins.find((p: { name: string }) => p.name === 'file')).toMatchObject({ kind: 'source', builtIn: true, package: '@sluice/plugin-file' });
    expect(plugins.find((p: { name: string }) => p.name === 'shout')).toMatchObject({ kind: 'transform', builtIn: false, package: '@acme/sluice-plugin-shout', version: '1.2.3' });
  });

  it('says it in text, and exits 0 when every package fits', async () => {
    const dir = tempDir('sluice-plugins-');
    mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
    symlinkSync(join(ROOT, 'packages/core'), join(dir, 'node_modules/@sluice/core'));
    plugin(join(dir, 'node_modules'), 'sluice-plugin-shout', 'shout', '^0.1.0');
    const listed = await sluice(['plugins'], { cwd: dir });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^built in \(@sluice\/cli 0\.1\.0, @sluice\/core 0\.1\.0\):\n  file \(source\) — /);
    expect(listed.stdout).toContain(
      '\nplugin packages (from . and the folders above it):\n' +
        'sluice-plugin-shout 1.2.3  @sluice/core ^0.1.0: fits 0.1.0\n' +
        `  ${join('node_modules', 'sluice-plugin-shout')}\n` +
        '  shout (transform) — Adds shout\n' +
        '      field          Where it goes (default "shout")\n',
    );
  });
});
