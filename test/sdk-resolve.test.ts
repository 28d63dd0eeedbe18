import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORE_VERSION, formatDiagnostic, loadJob } from '@sluice/core/internal';
import { builtInRegistry } from '../packages/cli/src/builtins.js';
import { tempDir } from './support/cli.js';

/** A plugin package in `<root>/node_modules/<name>`; plugins are plain objects, as `define*` makes them. */
function fakePackage(root: string, name: string, options: { version?: string; peer?: string | null; plugins: Array<{ name: string; kind: string }>; exports?: unknown; main?: string }) {
  const dir = join(root, 'node_modules', name);
  mkdirSync(join(dir, 'dist'), { recursive: true });
  const manifest: Record<string, unknown> = { name, version: options.version ?? '1.0.0', type: 'module', keywords: ['sluice-plugin'] };
  if (options.exports !== undefined) manifest.exports = options.exports;
  else if (options.main) manifest.main = options.main;
  else manifest.exports = { '.': { types: './dist/index.d.ts', import: './dist/index.js' } };
  if (options.peer !== null) manifest.peerDependencies = { '@sluice/core': options.peer ?? '^0.1.0' };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  const body = options.plugins
    .map((p) => `{ name: ${JSON.stringify(p.name)}, kind: ${JSON.stringify(p.kind)}, apiVersion: 1, description: 'x', schema: { type: 'object' }, create: () => ({ process: (r) => r }) }`)
    .join(', ');
  writeFileSync(join(dir, options.main ?? 'dist/index.js'), `export default [${body}];\n`);
}

const job = (plugins: string[], use = 'map') => `version: 1
name: resolve
plugins:
${plugins.map((p) => `  - ${JSON.stringify(p)}`).join('\n')}
source:
  use: file
  with: { path: in.jsonl }
steps:
  - use: ${use}
    with: {}
sink:
  use: file
  with: { path: out.jsonl }
`;

async function load(dir: string, text: string) {
  const file = join(dir, 'job.yaml');
  writeFileSync(file, text);
  return loadJob(file, { registry: builtInRegistry(), displayName: 'job.yaml', env: {} });
}

describe('plugins: resolution', () => {
  it('finds a package with Node resolution from the job file folder upwards and registers its plugins', async () => {
    const root = tempDir('sluice-resolve-');
    fakePackage(root, 'sluice-plugin-score', { plugins: [{ name: 'score', kind: 'transform' }] });
    const jobs = join(root, 'jobs', 'nightly');
    mkdirSync(jobs, { recursive: true });
    const { plan, diagnostics } = await load(jobs, job(['sluice-plugin-score'], 'score'));
    expect(diagnostics).toEqual([]);
    expect(plan!.steps[0]!.plugin.name).toBe('score');
  });

  it('follows the exports conditions in the package order, and main without exports', async () => {
    const root = tempDir('sluice-resolve-');
    fakePackage(root, 'sluice-plugin-cond', {
      plugins: [{ name: 'cond', kind: 'transform' }],
      exports: { '.': { require: './dist/missing.cjs', node: './dist/index.js', import: './dist/other.js' } },
    });
    fakePackage(root, '@acme/sluice-plugin-main', { plugins: [{ name: 'mainly', kind: 'transform' }], main: 'lib.js' });
    const { diagnostics } = await load(root, job(['sluice-plugin-cond', '@acme/sluice-plugin-main'], 'cond'));
    expect(diagnostics).toEqual([]);
  });

  it('refuses a package built for another @sluice/core, saying which versions fit', async () => {
    const root = tempDir('sluice-resolve-');
    fakePackage(root, 'sluice-plugin-old', { version: '3.1.0', peer: '^2.0.0', plugins: [{ name: 'old', kind: 'transform' }] });
    const { plan, diagnostics } = await load(root, job(['sluice-plugin-old'], 'old'));
    expect(plan).toBeUndefined();
    expect(formatDiagnostic(diagnostics[0]!)).toBe(
      `job.yaml:4:5  plugins[0]: plugin package 'sluice-plugin-old@3.1.0' needs @sluice/core ^2.0.0, but this sluice runs @sluice/core ${CORE_VERSION}\n` +
        `  hint: versions of @sluice/core that fit the plugin: ^2.0.0; to keep this sluice, install a release of sluice-plugin-old whose peerDependencies['@sluice/core'] includes ${CORE_VERSION}`,
    );
  });

  it('accepts a range that includes this core, and warns about a package that declares none', async () => {
    const root = tempDir('sluice-resolve-');
    fakePackage(root, 'sluice-plugin-wide', { peer: '>=0.1.0 <1', plugins: [{ name: 'wide', kind: 'transform' }] });
    fakePackage(root, 'sluice-plugin-loose', { peer: null, plugins: [{ name: 'loose', kind: 'transform' }] });
    const { plan, diagnostics } = await load(root, job(['sluice-plugin-wide', 'sluice-plugin-loose'], 'wide'));
    expect(plan).toBeDefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `job.yaml:5:5  warning: plugins[1]: plugin package 'sluice-plugin-loose' declares no peerDependencies['@sluice/core']; sluice cannot check that it was built for @sluice/core ${CORE_VERSION}`,
    ]);
  });

  it('says npm install NAME for a package that is not installed', async () => {
    const root = tempDir('sluice-resolve-');
    const { plan, diagnostics } = await load(root, job(['sluice-plugin-geoip'], 'map'));
    expect(plan).toBeUndefined();
    expect(formatDiagnostic(diagnostics[0]!)).toBe(
      `job.yaml:4:5  plugins[0]: plugin package 'sluice-plugin-geoip' is not installed: run npm install sluice-plugin-geoip\n` +
        `  hint: looked for node_modules/sluice-plugin-geoip in ${root} and every folder above it`,
    );
  });

  it('names the package, not the subpath, of a scoped specifier that is missing', async () => {
    const root = tempDir('sluice-resolve-');
    const { diagnostics } = await load(root, job(['@acme/sluice-plugins/geo'], 'map'));
    expect(diagnostics[0]!.message).toBe("plugin package '@acme/sluice-plugins' is not installed: run npm install @acme/sluice-plugins");
  });

  it('refuses two plugins of one kind and name, naming both packages', async () => {
    const root = tempDir('sluice-resolve-');
    fakePackage(root, 'sluice-plugin-a', { plugins: [{ name: 'score', kind: 'transform' }] });
    fakePackage(root, 'sluice-plugin-b', { plugins: [{ name: 'score', kind: 'transform' }, { name: 'other', kind: 'transform' }] });
    const { plan, diagnostics } = await load(root, job(['sluice-plugin-a', 'sluice-plugin-b'], 'score'));
    expect(plan).toBeUndefined();
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      "job.yaml:5:5  plugins[1]: two transform plugins are named 'score': one from sluice-plugin-a, one from sluice-plugin-b\n" +
        '  hint: list only one of the two packages in plugins:; a plugin of the other can still be used by the path of its module (use: ./node_modules/<package>/dist/index.js)',
    ]);
  });

  it('refuses a plugin that takes a built-in name, naming the built-in package', async () => {
    const root = tempDir('sluice-resolve-');
    fakePackage(root, 'sluice-plugin-mymap', { plugins: [{ name: 'map', kind: 'transform' }] });
    const { diagnostics } = await load(root, job(['sluice-plugin-mymap'], 'map'));
    expect(diagnostics[0]!.message).toBe("two transform plugins are named 'map': one from @sluice/plugin-transforms, one from sluice-plugin-mymap");
  });

  it('imports a package once however many job files name it', async () => {
    const root = tempDir('sluice-resolve-');
    fakePackage(root, 'sluice-plugin-count', { plugins: [{ name: 'counted', kind: 'transform' }] });
    writeFileSync(join(root, 'node_modules/sluice-plugin-count/dist/index.js'), `globalThis.__sluiceImports = (globalThis.__sluiceImports ?? 0) + 1;\nexport default { name: 'counted', kind: 'transform', apiVersion: 1, description: 'x', schema: { type: 'object' }, create: () => ({ process: (r) => r }) };\n`);
    for (let i = 0; i < 5; i++) {
      const sub = join(root, `jobs${i}`);
      mkdirSync(sub);
      const { diagnostics } = await load(sub, job(['sluice-plugin-count'], 'counted'));
      expect(diagnostics).toEqual([]);
    }
    expect((globalThis as { __sluiceImports?: number }).__sluiceImports).toBe(1);
  });
});
