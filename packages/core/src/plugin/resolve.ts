import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type semverModule from 'semver';

/** True for `./x.ts`, `../x.js`, `/abs/x.mjs` — a module path rather than a plugin or package name. */
export function isModulePath(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec) || /\.(m|c)?(t|j)s$/.test(spec);
}

export class PluginLoadError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PluginLoadError';
  }
}

/** The version of this `@sluice/core`, read from its package.json (plugins declare a range of it). */
export const CORE_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

/** A plugin module as loaded: what it exports and where it came from. */
export interface LoadedPluginModule {
  /** The module's default export (or its namespace when it has none). */
  readonly exported: unknown;
  /** The package name for packages, the path as written for local modules. */
  readonly origin: string;
  /** The file imported. */
  readonly path: string;
  /** The package's version, for packages. */
  readonly version?: string;
  /** Problems worth telling but not fatal (a package that declares no `@sluice/core` range). */
  readonly warnings: readonly string[];
}

// semver is ~50 modules: loaded when a job names a plugin package, not by every run.
const require = createRequire(import.meta.url);
let semverLoaded: typeof semverModule | undefined;
const semver = (): typeof semverModule => (semverLoaded ??= require('semver') as typeof semverModule);

let jiti: Promise<{ import: (id: string) => Promise<unknown> }> | undefined;

/**
 * Modules already imported, by resolved file: validating a hundred job files that name the same
 * plugin imports it once (Node caches modules too, but not our resolution and version checks).
 */
const loaded = new Map<string, Promise<LoadedPluginModule>>();

/** Imports a plugin module: a local file (TypeScript too) or a package resolved from `fromDir`. */
export async function importPlugin(spec: string, fromDir: string): Promise<unknown> {
  return (await loadPluginModule(spec, fromDir)).exported;
}

/**
 * Loads what a job names in `plugins:` or `use: ./path`: a local module, or a package found by
 * Node's module resolution from `fromDir`, whose `peerDependencies['@sluice/core']` must admit
 * this core's version. Throws a {@link PluginLoadError} saying what to do.
 */
export async function loadPluginModule(spec: string, fromDir: string, coreVersion = CORE_VERSION): Promise<LoadedPluginModule> {
  if (isModulePath(spec)) {
    const path = isAbsolute(spec) ? spec : resolve(fromDir, spec);
    if (!existsSync(path)) throw new PluginLoadError(`plugin module not found: ${path}`);
    const key = realpathSync(path);
    let entry = loaded.get(key);
    if (!entry) {
      entry = importFile(key).then((exported) => ({ exported, origin: spec, path: key, warnings: [] }));
      loaded.set(key, entry);
      entry.catch(() => loaded.delete(key));
    }
    return { ...(await entry), origin: spec };
  }

  const found = findPackage(spec, fromDir);
  if (!found) {
    const name = splitSpecifier(spec)[0];
    throw new PluginLoadError(
      `plugin package '${name}' is not installed: run npm install ${name}`,
      `looked for node_modules/${name} in ${fromDir} and every folder above it`,
    );
  }
  const { manifest, entry: file } = found;
  const name = manifest.name ?? splitSpecifier(spec)[0];
  const version = manifest.version;
  const range = manifest.peerDependencies?.['@sluice/core'] ?? manifest.dependencies?.['@sluice/core'];
  const warnings: string[] = [];
  if (range === undefined) {
    warnings.push(
      `plugin package '${name}' declares no peerDependencies['@sluice/core']; sluice cannot check that it was built for @sluice/core ${coreVersion}`,
    );
  } else if (semver().validRange(range) === null) {
    if (!/^(workspace|file|link):/.test(range)) {
      warnings.push(`plugin package '${name}' declares peerDependencies['@sluice/core'] '${range}', which is not a version range; it was not checked`);
    }
  } else if (!semver().satisfies(coreVersion, range, { includePrerelease: true })) {
    throw new PluginLoadError(
      `plugin package '${name}${version ? `@${version}` : ''}' needs @sluice/core ${range}, but this sluice runs @sluice/core ${coreVersion}`,
      `versions of @sluice/core that fit the plugin: ${range}; to keep this sluice, install a release of ${name} whose peerDependencies['@sluice/core'] includes ${coreVersion}`,
    );
  }
  if (!file || !existsSync(file)) {
    throw new PluginLoadError(`plugin package '${name}' has no entry point to import (${file ?? 'no exports, module or main'}); is it built?`);
  }
  const key = realpathSync(file);
  let entry = loaded.get(key);
  if (!entry) {
    entry = import(pathToFileURL(key).href).then(
      (mod: Record<string, unknown>) => ({ exported: 'default' in mod ? mod.default : mod, origin: name, path: key, ...(version ? { version } : {}), warnings }),
      (error: Error) => {
        throw new PluginLoadError(`cannot load plugin package '${name}': ${error.message}`, undefined, { cause: error });
      },
    );
    loaded.set(key, entry);
    entry.catch(() => loaded.delete(key));
  }
  return entry;
}

async function importFile(path: string): Promise<unknown> {
  try {
    if (/\.(m|c)?ts$/.test(path)) {
      jiti ??= import('jiti').then((m) => m.createJiti(import.meta.url, { interopDefault: true, moduleCache: true }));
      const mod = (await (await jiti!).import(path)) as Record<string, unknown>;
      return mod && typeof mod === 'object' && 'default' in mod ? mod.default : mod;
    }
    const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    return 'default' in mod ? mod.default : mod;
  } catch (error) {
    throw new PluginLoadError(`cannot load plugin module ${path}: ${(error as Error).message}`, undefined, { cause: error });
  }
}

interface Manifest {
  name?: string;
  version?: string;
  exports?: unknown;
  main?: string;
  peerDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/** Node's lookup of a package's ESM entry from `fromDir` upwards; undefined when not installed. */
export function resolvePackage(name: string, fromDir: string): string | undefined {
  return findPackage(name, fromDir)?.entry;
}

/**
 * Finds `node_modules/<name>` in `fromDir` and each folder above it, as Node does, and picks the
 * entry an `import` gets: `exports` under the `node`/`import`/`default` conditions (in the
 * package's own order); without `exports`, Node's legacy lookup of `main` (`index.js`, extensions).
 */
function findPackage(spec: string, fromDir: string): { dir: string; manifest: Manifest; entry: string | undefined } | undefined {
  const [pkgName, subpath] = splitSpecifier(spec);
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', pkgName);
    const manifestPath = join(pkgDir, 'package.json');
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
      return { dir: pkgDir, manifest, entry: entryOf(pkgDir, manifest, subpath, spec, dir) };
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function splitSpecifier(spec: string): [string, string] {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  const rest = parts.slice(n).join('/');
  return [parts.slice(0, n).join('/'), rest ? `./${rest}` : '.'];
}

const CONDITIONS = new Set(['node', 'import', 'default']);

function entryOf(pkgDir: string, pkg: Manifest, subpath: string, spec: string, fromDir: string): string | undefined {
  const pick = (target: unknown): string | undefined => {
    if (typeof target === 'string') return target;
    if (Array.isArray(target)) return target.map(pick).find(Boolean);
    if (target && typeof target === 'object') {
      for (const [condition, value] of Object.entries(target)) if (CONDITIONS.has(condition)) {
        const picked = pick(value);
        if (picked) return picked;
      }
    }
    return undefined;
  };
  if (pkg.exports !== undefined && pkg.exports !== null) {
    const exportsField = pkg.exports;
    const map =
      typeof exportsField === 'string' || Array.isArray(exportsField) || !Object.keys(exportsField as object).some((k) => k.startsWith('.'))
        ? { '.': exportsField }
        : (exportsField as Record<string, unknown>);
    let rel = pick(map[subpath]);
    if (!rel) {
      // Subpath patterns: "./features/*": "./src/features/*.js".
      for (const [key, value] of Object.entries(map)) {
        const star = key.indexOf('*');
        if (star < 0 || !subpath.startsWith(key.slice(0, star)) || !subpath.endsWith(key.slice(star + 1))) continue;
        const middle = subpath.slice(star, subpath.length - (key.length - star - 1));
        rel = pick(value)?.replace(/\*/g, middle);
        if (rel) break;
      }
    }
    return rel ? join(pkgDir, rel) : undefined;
  }
  try {
    return createRequire(join(fromDir, 'noop.js')).resolve(spec);
  } catch {
    return undefined;
  }
}
