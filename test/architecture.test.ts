import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

/**
 * The direction of imports (docs/architecture.md): cli → plugins → core. Core imports no plugin
 * and no cli; a plugin's code imports @sluice/core's public entry points only (`@sluice/core`,
 * `@sluice/core/testing`), never its internals, another plugin or the cli; nothing reaches into
 * another package's folder by a relative path. A plugin's tests may also use
 * `@sluice/core/internal` to run whole jobs, and the repository's test servers (test/support).
 */

interface Package {
  /** `core`, `cli`, or `plugins/<name>`. */
  readonly id: string;
  readonly dir: string;
}

interface Violation {
  readonly file: string;
  readonly specifier: string;
  readonly why: string;
}

function packagesUnder(root: string): Package[] {
  const out: Package[] = [];
  for (const name of ['core', 'cli']) out.push({ id: name, dir: join(root, 'packages', name) });
  for (const name of readdirSync(join(root, 'packages', 'plugins'))) out.push({ id: `plugins/${name}`, dir: join(root, 'packages', 'plugins', name) });
  return out;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') out.push(...sourceFiles(path));
    } else if (/\.(c|m)?tsx?$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every module a file imports: static and type-only imports, re-exports, import() and require() — comments and strings are not read. */
export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

const isTest = (file: string) => /\.(int\.)?test\.tsx?$/.test(file);

function check(root: string, pkg: Package, file: string, specifier: string, all: Package[]): string | undefined {
  if (specifier.startsWith('.')) {
    const target = resolve(dirname(file), specifier);
    const owner = all.find((p) => target === p.dir || target.startsWith(p.dir + sep));
    // Tests share the repository's servers and fixtures (a real HTTP or SMTP server).
    if (!owner && isTest(file) && target.startsWith(join(root, 'test', 'support') + sep)) return undefined;
    if (!owner || owner.id !== pkg.id) return `reaches out of ${pkg.id} by a relative path${owner ? ` into ${owner.id}` : ''}`;
    return undefined;
  }
  const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
  if (!name.startsWith('@sluice/')) return undefined; // a third-party package: not this test's business
  if (pkg.id === 'cli') return undefined; // the top: may import core (internal too) and every plugin
  if (pkg.id === 'core') return specifier.startsWith('@sluice/core') ? undefined : 'core imports no plugin and no cli';
  // A plugin.
  if (name !== '@sluice/core') return `a plugin imports only @sluice/core (not ${name})`;
  if (specifier === '@sluice/core' || specifier === '@sluice/core/testing') return undefined;
  if (specifier === '@sluice/core/internal' && isTest(file)) return undefined;
  return `a plugin imports only @sluice/core's public entry points (@sluice/core, @sluice/core/testing), not ${specifier}`;
}

/** Every import against the allowed direction in the tree at `root`. */
function violations(root: string): Violation[] {
  const all = packagesUnder(root);
  const found: Violation[] = [];
  for (const pkg of all) {
    for (const file of sourceFiles(join(pkg.dir, 'src'))) {
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        const why = check(root, pkg, file, specifier, all);
        if (why) found.push({ file: relative(root, file), specifier, why });
      }
    }
  }
  return found;
}

describe('imports go one way: cli → plugins → core', () => {
  it('no package imports against the allowed direction', () => {
    expect(violations(ROOT)).toEqual([]);
  });

  it('the scan reads real import statements: import, export from, import(), require, type-only; not comments or strings', () => {
    const text = [
      "import { a } from '@sluice/core';",
      "import type { B } from '@sluice/plugin-file';",
      "export { c } from './c.js';",
      "const d = await import('@sluice/plugin-sql');",
      "const e = require('@sluice/cli');",
      "// import '@sluice/plugin-http';",
      "const f = \"import x from '@sluice/plugin-email'\";",
    ].join('\n');
    expect(importsOf(text).sort()).toEqual(['./c.js', '@sluice/cli', '@sluice/core', '@sluice/plugin-file', '@sluice/plugin-sql']);
  });

  // A copy of the layout with one bad import planted in each package kind: each must be caught.
  it.each([
    ['core', 'core/src/bad.ts', "import { fileSource } from '@sluice/plugin-file';", 'core imports no plugin'],
    ['core, by a relative path', 'core/src/bad.ts', "import { x } from '../../plugins/file/src/source.js';", 'reaches out of core'],
    ['core, type only', 'core/src/bad.ts', "import type { X } from '@sluice/cli';", 'core imports no plugin and no cli'],
    ['a plugin, core internals', 'plugins/file/src/bad.ts', "import { JobRun } from '@sluice/core/internal';", "public entry points"],
    ['a plugin, another plugin', 'plugins/file/src/bad.ts', "export { x } from '@sluice/plugin-sql';", 'a plugin imports only @sluice/core'],
    ['a plugin, the cli lazily', 'plugins/file/src/bad.ts', "const cli = await import('@sluice/cli');", 'a plugin imports only @sluice/core'],
    ['a plugin, test support outside a test', 'plugins/file/src/bad.ts', "import { server } from '../../../../test/support/http-server.js';", 'reaches out of plugins/file'],
  ])('finds a planted bad import: %s', (_name, where, line, why) => {
    const root = mkdtempSync(join(tmpdir(), 'sluice-arch-'));
    try {
      for (const dir of ['core/src', 'cli/src', 'plugins/file/src', 'plugins/sql/src']) mkdirSync(join(root, 'packages', dir), { recursive: true });
      writeFileSync(join(root, 'packages/plugins/file/src/ok.ts'), "import { defineSource } from '@sluice/core';\n");
      writeFileSync(join(root, 'packages/plugins/file/src/ok.test.ts'), "import { JobRun } from '@sluice/core/internal';\n");
      writeFileSync(join(root, 'packages/cli/src/ok.ts'), "import { JobRun } from '@sluice/core/internal';\nimport x from '@sluice/plugin-file';\n");
      writeFileSync(join(root, 'packages', where), `${line}\n`);
      const found = violations(root);
      expect(found).toHaveLength(1);
      expect(found[0]!.file).toBe(join('packages', where));
      expect(found[0]!.why).toContain(why);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
