import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

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

let jiti: Promise<{ import: (id: string) => Promise<unknown> }> | undefined;

/** Imports a plugin module: a local file (TypeScript too) or a package resolved from `fromDir`. */
export async function importPlugin(spec: string, fromDir: string): Promise<unknown> {
  if (isModulePath(spec)) {
    const path = isAbsolute(spec) ? spec : resolve(fromDir, spec);
    if (!existsSync(path)) throw new PluginLoadError(`plugin module not found: ${path}`);
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
  const entry = resolvePackage(spec, fromDir);
  if (!entry) {
    throw new PluginLoadError(`plugin package '${spec}' is not installed (looked in node_modules from ${fromDir} up)`, `npm install ${spec}`);
  }
  try {
    const mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
    return 'default' in mod ? mod.default : mod;
  } catch (error) {
    throw new PluginLoadError(`cannot load plugin package '${spec}': ${(error as Error).message}`, undefined, { cause: error });
  }
}

/** Node-style lookup of a package's ESM entry from `fromDir` upwards (exports → import/default, module, main). */
export function resolvePackage(name: string, fromDir: string): string | undefined {
  const [pkgName, subpath] = splitSpecifier(name);
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', pkgName);
    const manifest = join(pkgDir, 'package.json');
    if (existsSync(manifest)) return entryOf(pkgDir, JSON.parse(readFileSync(manifest, 'utf8')), subpath);
    if (dirname(dir) === dir) return undefined;
  }
}

function splitSpecifier(spec: string): [string, string] {
  const parts = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  const rest = parts.slice(n).join('/');
  return [parts.slice(0, n).join('/'), rest ? `./${rest}` : '.'];
}

function entryOf(pkgDir: string, pkg: Record<string, unknown>, subpath: string): string | undefined {
  const pick = (target: unknown): string | undefined => {
    if (typeof target === 'string') return target;
    if (Array.isArray(target)) return target.map(pick).find(Boolean);
    if (target && typeof target === 'object') {
      const t = target as Record<string, unknown>;
      for (const cond of ['import', 'node', 'default', 'require']) if (cond in t) return pick(t[cond]);
    }
    return undefined;
  };
  const exportsField = pkg.exports as unknown;
  let rel: string | undefined;
  if (exportsField !== undefined) {
    const map =
      typeof exportsField === 'string' || Array.isArray(exportsField) || !Object.keys(exportsField as object).some((k) => k.startsWith('.'))
        ? { '.': exportsField }
        : (exportsField as Record<string, unknown>);
    rel = pick(map[subpath]);
  } else if (subpath === '.') {
    rel = (pkg.module as string | undefined) ?? (pkg.main as string | undefined) ?? 'index.js';
  } else {
    rel = subpath;
  }
  return rel ? join(pkgDir, rel) : undefined;
}
