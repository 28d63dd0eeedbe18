import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir } from './support/cli.js';

/** Runs a command; resolves with its output and exit code, killed after `timeoutMs`. */
function run(command: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out\n${out}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/**
 * Every kind of scaffold builds and passes its own test as written. Offline: the package's
 * node_modules link to this repository's @sluice/core, typescript and @types/node (the e2e test
 * installs from tarballs and the registry instead).
 */
describe('sluice new plugin', () => {
  it.each(['source', 'transform', 'sink'])('a %s plugin builds and passes its test with no edits', async (kind) => {
    const tmp = tempDir('sluice-scaffold-');
    const created = await sluice(['new', 'plugin', `@acme/sluice-plugin-my-${kind}`, '--kind', kind], { cwd: tmp });
    expect(created.code, created.stderr).toBe(0);
    const dir = join(tmp, `sluice-plugin-my-${kind}`);
    expect(created.stdout).toBe(
      `created sluice-plugin-my-${kind}/: ${kind} plugin 'my-${kind}' in package @acme/sluice-plugin-my-${kind}\n` +
        '  package.json\n  tsconfig.json\n  .gitignore\n  src/index.ts\n  src/index.test.ts\n  README.md\n' +
        // The next step is the same wherever this sluice runs: never a path into a checkout.
        `next: cd sluice-plugin-my-${kind} && npm install && npm test\n`,
    );
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({
      name: `@acme/sluice-plugin-my-${kind}`,
      type: 'module',
      keywords: expect.arrayContaining(['sluice-plugin']),
      peerDependencies: { '@sluice/core': '^0.1.0' },
    });
    expect(readFileSync(join(dir, 'src/index.ts'), 'utf8')).toContain(`name: 'my-${kind}'`);

    mkdirSync(join(dir, 'node_modules/@sluice'), { recursive: true });
    mkdirSync(join(dir, 'node_modules/@types'), { recursive: true });
    symlinkSync(join(ROOT, 'packages/core'), join(dir, 'node_modules/@sluice/core'));
    symlinkSync(join(ROOT, 'node_modules/typescript'), join(dir, 'node_modules/typescript'));
    symlinkSync(join(ROOT, 'node_modules/@types/node'), join(dir, 'node_modules/@types/node'));

    const build = await run(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], dir);
    expect(build.out).toBe('');
    expect(build.code).toBe(0);
    // A sink's test suite also runs crashTest: a few dozen child runs, so a longer hang guard.
    const test = await run(process.execPath, ['--test'], dir, 400_000);
    expect(test.out).toMatch(kind === 'sink' ? /# pass 4\n# fail 0/ : /# pass 3\n# fail 0/);
    expect(test.code).toBe(0);
  });

  it('refuses a bad name, a bad kind and a folder that is not empty', async () => {
    const tmp = tempDir('sluice-scaffold-');
    const badName = await sluice(['new', 'plugin', 'My Plugin'], { cwd: tmp });
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain("'My Plugin' is not a valid npm package name");
    const badKind = await sluice(['new', 'plugin', 'sluice-plugin-x', '--kind', 'filter'], { cwd: tmp });
    expect(badKind.code).toBe(2);
    expect(badKind.stderr).toContain('--kind must be one of source, transform, sink');
    expect((await sluice(['new', 'plugin', 'sluice-plugin-x'], { cwd: tmp })).code).toBe(0);
    const again = await sluice(['new', 'plugin', 'sluice-plugin-x'], { cwd: tmp });
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('sluice new: sluice-plugin-x exists and is not empty; choose another --dir\n');
    expect((await sluice(['new', 'thing', 'x'], { cwd: tmp })).code).toBe(2);
  });
});
