import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './support/cli.js';
import { npmEnv, sh, startRegistry, stopwatch, type Registry } from './support/npm.js';

/**
 * The release path, as a team adopting Sluice walks it (README, "Use Sluice in your project"):
 * every package is published by scripts/release.sh to a private registry (Verdaccio on
 * 127.0.0.1); a fresh project whose .npmrc points @sluice there installs @sluice/cli alone, runs
 * `sluice init`, the example job and its test; a plugin made with `sluice new plugin` is
 * installed, tested and published from its own folder, installed into the project, listed by
 * `sluice plugins` and used by a job; a job also uses a local TypeScript transform that imports
 * @sluice/core.
 */

const PACKAGES = ['core', 'cli', 'plugin-email', 'plugin-file', 'plugin-http', 'plugin-redis', 'plugin-sql', 'plugin-transforms'].map((p) => `@sluice/${p}`);
const VERSION = JSON.parse(readFileSync(join(ROOT, 'packages/cli/package.json'), 'utf8')).version as string;

/**
 * better-sqlite3 builds from source when no prebuilt binary can be downloaded (none can here),
 * which takes minutes on a loaded machine. The workspace built the same module at setup: offer
 * it to the project's install as a local prebuild (prebuild-install's documented
 * npm_config_<package>_local_prebuilds), as a download would. When the versions differ the
 * install compiles, as it would anyway.
 */
function localPrebuilds(dir: string): Promise<NodeJS.ProcessEnv> {
  const pkg = join(ROOT, 'node_modules/.pnpm', `better-sqlite3@${resolvedSqliteVersion()}`, 'node_modules/better-sqlite3');
  if (!existsSync(join(pkg, 'build/Release/better_sqlite3.node'))) return Promise.resolve({});
  mkdirSync(dir, { recursive: true });
  const name = `better-sqlite3-v${resolvedSqliteVersion()}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  return sh('tar', ['-czf', join(dir, name), '-C', pkg, 'build/Release/better_sqlite3.node'], dir).then(() => ({ npm_config_better_sqlite3_local_prebuilds: dir }));
}

function resolvedSqliteVersion(): string {
  const lock = readFileSync(join(ROOT, 'pnpm-lock.yaml'), 'utf8');
  return /\n {2}better-sqlite3@(\d+\.\d+\.\d+):/.exec(lock)?.[1] ?? 'none';
}

describe('the release path, with a real registry', () => {
  const tmp = tempDir('sluice-release-');
  const project = join(tmp, 'acme-jobs');
  const plugin = join(tmp, 'sluice-plugin-shout');
  let registry: Registry;
  const env = npmEnv();
  // Only for installing @sluice/cli: npm warns of the unknown variable in every command's output.
  let installEnv: NodeJS.ProcessEnv;
  const { timings, timed } = stopwatch();
  const npm = (args: string[], cwd: string, timeoutMs?: number) => sh('npm', args, cwd, { env, ...(timeoutMs ? { timeoutMs } : {}) });
  const npx = (args: string[], cwd = project) => sh('npx', ['--no-install', ...args], cwd, { env, timeoutMs: 60_000 });

  beforeAll(async () => {
    registry = await timed('registry start', () => startRegistry(join(tmp, 'registry')));
    installEnv = npmEnv(await localPrebuilds(join(tmp, 'prebuilds')));
    // The maintainer's side: npm's configuration names the registry for @sluice and its token.
    writeFileSync(join(tmp, 'maintainer.npmrc'), registry.npmrc(['@sluice']));
    await timed('release.sh', () => sh('sh', [join(ROOT, 'scripts/release.sh'), '--no-git-tag'], ROOT, { env: npmEnv({ npm_config_userconfig: join(tmp, 'maintainer.npmrc') }), timeoutMs: 300_000 }));
  }, 600_000);

  afterAll(async () => {
    await registry?.stop();
    console.log(`release path timings (ms): ${JSON.stringify(timings)}`);
    // Two installed projects and a registry: some hundred megabytes not to leave behind.
    rmSync(tmp, { recursive: true, force: true });
  });

  it('publishes every package with versions in place of workspace: ranges, and plugins that name @sluice/core as a peer', async () => {
    for (const name of PACKAGES) {
      const packument = (await (await fetch(`${registry.url}${name.replace('/', '%2f')}`)).json()) as { versions: Record<string, { dist: { tarball: string } }> };
      expect(packument.versions[VERSION], `${name}@${VERSION} on the registry`).toBeDefined();
      // The package.json inside the published tarball, as npm installs it.
      const tgz = join(tmp, `${name.replace('/', '-')}.tgz`);
      writeFileSync(tgz, Buffer.from(await (await fetch(packument.versions[VERSION]!.dist.tarball)).arrayBuffer()));
      const text = await sh('tar', ['-xzOf', tgz, 'package/package.json'], tmp);
      expect(text, name).not.toContain('workspace:');
      const manifest = JSON.parse(text) as { license: string; engines: object; dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
      expect(manifest).toMatchObject({ license: 'MIT', engines: { node: expect.stringMatching(/^>=20/) } });
      if (name.startsWith('@sluice/plugin-')) {
        expect(manifest.peerDependencies, name).toEqual({ '@sluice/core': `^${VERSION}` });
        expect(manifest.dependencies?.['@sluice/core'], name).toBeUndefined();
      }
      if (name === '@sluice/cli') for (const dep of PACKAGES.filter((p) => p !== name)) expect(manifest.dependencies?.[dep], dep).toBe(VERSION);
      const files = (await sh('tar', ['-tzf', tgz], tmp)).split('\n');
      expect(files, name).toEqual(expect.arrayContaining(['package/package.json', 'package/README.md', 'package/LICENSE']));
      // Built code only: no tests, no build info, no sources.
      expect(files.filter((f) => /\.test\.|tsbuildinfo|^package\/src\//.test(f)), name).toEqual([]);
    }
  });

  it('npm i -D @sluice/cli alone gives a project the sluice command; init, the example job and its test work', async () => {
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'acme-jobs', version: '1.0.0', private: true }, null, 2)}\n`);
    writeFileSync(join(project, '.npmrc'), `@sluice:registry=${registry.url}\n@acme:registry=${registry.url}\n`);
    await timed('project: npm i -D @sluice/cli', () => sh('npm', ['install', '-D', '@sluice/cli', '--prefer-offline'], project, { env: installEnv, timeoutMs: 600_000 }));

    const init = await timed('sluice init', () => npx(['sluice', 'init']));
    expect(init).toContain('created jobs/hello.yaml');
    expect(init).toContain('updated package.json (added scripts.jobs:run, scripts.jobs:validate, scripts.jobs:test, scripts.jobs:schema)');
    expect(JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')).devDependencies['@sluice/cli']).toBe(`^${VERSION}`);

    const run = await timed('sluice run hello', () => npx(['sluice', 'run', 'jobs/hello.yaml', '--progress', 'none']));
    expect(run).toContain('read 6 = written 5 + filtered 0 + dead-lettered 1 + skipped 0');
    expect(existsSync(join(project, 'jobs/out/hello.db'))).toBe(true);
    expect(await timed('sluice test', () => npx(['sluice', 'test']))).toContain('2 tests: 2 passed, 0 failed');
    // A job from a template, and the checks of the CI workflow init wrote, as the scripts it added run them.
    expect(await npx(['sluice', 'new', 'job', 'orders', '--from', 'csv-to-postgres'])).toContain('created jobs/orders.yaml');
    expect(await timed('npm run jobs:validate', () => npm(['run', 'jobs:validate', '--', '--format', 'github'], project))).toContain('3 valid, 0 invalid');
    expect(await timed('npm run jobs:test', () => npm(['run', 'jobs:test'], project))).toContain('2 tests: 2 passed, 0 failed');
  }, 660_000);

  it('a plugin made with sluice new plugin installs @sluice/core from the registry, passes its test, publishes, installs into the project, is listed and runs', async () => {
    const made = await npx(['sluice', 'new', 'plugin', '@acme/sluice-plugin-shout', '--dir', '../sluice-plugin-shout']);
    expect(made).toContain('next: cd ../sluice-plugin-shout && npm install && npm test');
    // The plugin's own repository: its .npmrc names the company registry, and the token to publish.
    writeFileSync(join(plugin, '.npmrc'), registry.npmrc(['@sluice', '@acme']));
    await timed('plugin: npm install', () => npm(['install', '--prefer-offline'], plugin));
    expect(JSON.parse(readFileSync(join(plugin, 'node_modules/@sluice/core/package.json'), 'utf8')).version).toBe(VERSION);
    const test = await timed('plugin: npm test', () => npm(['test'], plugin));
    expect(test).toMatch(/# pass 3\n# fail 0/);
    await timed('plugin: npm publish', () => npm(['publish'], plugin));

    await timed('project: npm i plugin', () => npm(['install', '@acme/sluice-plugin-shout', '--prefer-offline'], project));
    const listed = JSON.parse(await timed('sluice plugins', () => npx(['sluice', 'plugins', '--json'])));
    expect(listed.packages).toEqual([
      {
        name: '@acme/sluice-plugin-shout',
        version: '0.1.0',
        path: join('node_modules', '@acme/sluice-plugin-shout'),
        from: 'installed',
        coreRange: `^${VERSION}`,
        fits: true,
        plugins: [{ name: 'shout', kind: 'transform' }],
        problems: [],
      },
    ]);

    writeFileSync(
      join(project, 'jobs/shout.yaml'),
      `version: 1
name: shout
plugins: ["@acme/sluice-plugin-shout"]
source: { use: file, with: { path: data/customers.csv, csv: { cast: true } } }
steps:
  - use: shout
    with: { field: greeting, value: "'hello ' + record.name" }
sink: { use: file, with: { path: out/shout.jsonl } }
`,
    );
    const run = await timed('sluice run shout', () => npx(['sluice', 'run', 'jobs/shout.yaml', '--progress', 'none']));
    expect(run).toContain('read 6 = written 6');
    const first = JSON.parse(readFileSync(join(project, 'jobs/out/shout.jsonl'), 'utf8').split('\n')[0]!);
    expect(first).toMatchObject({ id: 1, greeting: 'hello Ada Lovelace' });
  }, 600_000);

  it('a job uses a local TypeScript transform that imports @sluice/core', async () => {
    mkdirSync(join(project, 'jobs/transforms'));
    writeFileSync(
      join(project, 'jobs/transforms/upper.ts'),
      `import { defineTransform, RecordError, type SluiceRecord } from '@sluice/core';

export default defineTransform({
  name: 'upper',
  description: 'Upper-cases the name',
  schema: { type: 'object', properties: {}, additionalProperties: false } as const,
  create: () => ({
    process(record: SluiceRecord): SluiceRecord {
      if (typeof record.name !== 'string') throw new RecordError('name must be text');
      return { ...record, name: record.name.toUpperCase() };
    },
  }),
});
`,
    );
    writeFileSync(
      join(project, 'jobs/upper.yaml'),
      `version: 1
name: upper
source: { use: file, with: { path: data/customers.csv, csv: { cast: true } } }
steps:
  - use: ./transforms/upper.ts
sink: { use: file, with: { path: out/upper.jsonl } }
`,
    );
    const validate = await npx(['sluice', 'validate', 'jobs/upper.yaml']);
    expect(validate).toContain('jobs/upper.yaml: ok');
    const run = await timed('sluice run upper', () => npx(['sluice', 'run', 'jobs/upper.yaml', '--progress', 'none']));
    expect(run).toContain('read 6 = written 6');
    expect(readFileSync(join(project, 'jobs/out/upper.jsonl'), 'utf8')).toContain('"name":"GRACE HOPPER"');
  }, 180_000);
});
