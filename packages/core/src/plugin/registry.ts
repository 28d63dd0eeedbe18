import { PLUGIN_API_VERSION, type AnyPluginDefinition, type PluginKind } from './types.js';

export interface RegisteredPlugin {
  readonly definition: AnyPluginDefinition;
  /** Where it came from: a package name, a file path, or `built-in`. */
  readonly origin: string;
}

/** A problem with a plugin module, and what to do about it. */
export interface RegistryProblem {
  readonly message: string;
  readonly hint?: string;
}

/** Plugins known to a run, by kind and name. */
export class PluginRegistry {
  private readonly byKind: Record<PluginKind, Map<string, RegisteredPlugin>> = {
    source: new Map(),
    transform: new Map(),
    sink: new Map(),
  };

  /** Adds every plugin a module exported (one definition or an array); returns problems found. */
  addModule(exported: unknown, origin: string): string[] {
    return this.add(exported, origin).map((p) => p.message);
  }

  /** As `addModule`, with a hint to each problem. */
  add(exported: unknown, origin: string): RegistryProblem[] {
    const problems: RegistryProblem[] = [];
    const defs = Array.isArray(exported) ? exported : [exported];
    if (defs.length === 0 || !defs.every(isDefinition)) {
      return [{
        message: `${origin} does not export a Sluice plugin (expected defineSource/defineTransform/defineSink as its default export, or an array of them)`,
      }];
    }
    for (const def of defs) {
      const version = (def as { apiVersion?: number }).apiVersion;
      if (version !== undefined && version !== PLUGIN_API_VERSION) {
        problems.push({ message: `${origin}: plugin '${def.name}' was built for plugin API ${version}; this sluice runs API ${PLUGIN_API_VERSION}` });
        continue;
      }
      const existing = this.byKind[def.kind].get(def.name);
      if (existing && existing.definition !== def) {
        problems.push({
          message: `two ${def.kind} plugins are named '${def.name}': one from ${existing.origin}, one from ${origin}`,
          hint: 'list only one of the two packages in plugins:; a plugin of the other can still be used by the path of its module (use: ./node_modules/<package>/dist/index.js)',
        });
        continue;
      }
      this.byKind[def.kind].set(def.name, { definition: def, origin });
    }
    return problems;
  }

  /** The problems `addModule` would report for a module, without registering it. */
  checkModule(exported: unknown, origin: string): string[] {
    return new PluginRegistry().addModule(exported, origin);
  }

  /** Registers `def` under another name (a step's `use: ./path.ts`). */
  registerAs(name: string, def: AnyPluginDefinition, origin: string): void {
    this.byKind[def.kind].set(name, { definition: def, origin });
  }

  get(kind: PluginKind, name: string): RegisteredPlugin | undefined {
    return this.byKind[kind].get(name);
  }

  names(kind: PluginKind): string[] {
    return [...this.byKind[kind].keys()].sort();
  }

  /** The kinds a name is registered as (for "'file' is not a transform; it is a source, sink"). */
  kindsOf(name: string): PluginKind[] {
    return (['source', 'transform', 'sink'] as const).filter((k) => this.byKind[k].has(name));
  }

  all(): RegisteredPlugin[] {
    return (['source', 'transform', 'sink'] as const).flatMap((k) => [...this.byKind[k].values()]);
  }

  /** A copy, so a job's own plugins don't leak into the next job validated by the same process. */
  clone(): PluginRegistry {
    const copy = new PluginRegistry();
    for (const kind of ['source', 'transform', 'sink'] as const) {
      for (const [name, entry] of this.byKind[kind]) copy.byKind[kind].set(name, entry);
    }
    return copy;
  }
}

function isDefinition(value: unknown): value is AnyPluginDefinition {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.name === 'string' &&
    (v.kind === 'source' || v.kind === 'transform' || v.kind === 'sink') &&
    typeof v.create === 'function' &&
    typeof v.schema === 'object'
  );
}
