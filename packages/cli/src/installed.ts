import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import semver from 'semver';

/** A plugin package found in a node_modules folder. */
export interface PluginPackage {
  readonly name: string;
  readonly version?: string;
  /** Its folder. */
  readonly dir: string;
  /** `peerDependencies['@sluice/core']` (or, wrongly, `dependencies`), when it declares one. */
  readonly coreRange?: string;
}

interface Manifest {
  name?: string;
  version?: string;
  keywords?: unknown;
  peerDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}

function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  } catch {
    return undefined; // not a package (.bin, a broken link)
  }
}

function describe(dir: string, manifest: Manifest, fallbackName: string): PluginPackage {
  const coreRange = manifest.peerDependencies?.['@sluice/core'] ?? manifest.dependencies?.['@sluice/core'];
  return { name: manifest.name ?? fallbackName, dir, ...(manifest.version ? { version: manifest.version } : {}), ...(coreRange ? { coreRange } : {}) };
}

/** Packages in one node_modules folder (scopes included) whose package.json has the keyword `sluice-plugin`. */
export function pluginPackagesIn(modules: string): PluginPackage[] {
  if (!existsSync(modules)) return [];
  const found: PluginPackage[] = [];
  const consider = (name: string) => {
    const manifest = readManifest(join(modules, name));
    if (manifest && Array.isArray(manifest.keywords) && manifest.keywords.includes('sluice-plugin')) found.push(describe(join(modules, name), manifest, name));
  };
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) for (const inner of readdirSync(join(modules, entry))) consider(`${entry}/${inner}`);
    else consider(entry);
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Plugin packages a job in `fromDir` can load: those in `node_modules` there and in every folder
 * above it, the nearest one of each name (as Node's resolution picks it).
 */
export function installedPluginPackages(fromDir: string): PluginPackage[] {
  const byName = new Map<string, PluginPackage>();
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    for (const pkg of pluginPackagesIn(join(dir, 'node_modules'))) if (!byName.has(pkg.name)) byName.set(pkg.name, pkg);
    if (dirname(dir) === dir) break;
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The package named `name` as Node finds it from `fromDir`, keyword or not; undefined when not installed. */
export function findPackage(name: string, fromDir: string): PluginPackage | undefined {
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', name);
    const manifest = existsSync(join(pkgDir, 'package.json')) ? readManifest(pkgDir) : undefined;
    if (manifest) return describe(pkgDir, manifest, name);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Whether a plugin's `@sluice/core` range admits `coreVersion`: true or false, or undefined when
 * it declares none or something that is not a range (`workspace:`, a path), which cannot be checked.
 */
export function coreFits(range: string | undefined, coreVersion: string): boolean | undefined {
  if (range === undefined || semver.validRange(range) === null) return undefined;
  return semver.satisfies(coreVersion, range, { includePrerelease: true });
}
