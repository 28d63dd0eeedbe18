import type { DependencyContainer } from 'tsyringe';
import { fileStore, noStore } from '../checkpoint/core-stores.js';
import { isExtensionDefinition, type AnyExtensionDefinition, type AnyCheckpointStoreDefinition, type ConnectionKindDefinition } from './extensions.js';
import { checkpointStoreKinds, connectionKinds, newProviderContainer, Services } from './services.js';
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

/**
 * What a job can use: plugins by kind and name, and — in a tsyringe container, where a run's own
 * container is made from — the checkpoint stores and connection kinds packages contribute. A
 * package contributes all of them the same way: definitions in its default export.
 */
export class PluginRegistry {
  private readonly byKind: Record<PluginKind, Map<string, RegisteredPlugin>> = {
    source: new Map(),
    transform: new Map(),
    sink: new Map(),
  };
  /** The providers: core's stores (file, none) and every contributed store and connection kind. */
  readonly container: DependencyContainer = newProviderContainer();
  private readonly extensionOrigins = new Map<string, string>();

  constructor(options: { readonly empty?: boolean } = {}) {
    if (options.empty) return;
    this.addExtension(fileStore, 'built-in');
    this.addExtension(noStore, 'built-in');
  }

  /** Adds every plugin a module exported (one definition or an array); returns problems found. */
  addModule(exported: unknown, origin: string): string[] {
    return this.add(exported, origin).map((p) => p.message);
  }

  /** As `addModule`, with a hint to each problem. */
  add(exported: unknown, origin: string): RegistryProblem[] {
    const problems: RegistryProblem[] = [];
    const all = Array.isArray(exported) ? exported : [exported];
    if (all.length === 0 || !all.every((def) => isDefinition(def) || isExtensionDefinition(def))) {
      return [{
        message: `${origin} does not export a Sluice plugin (expected defineSource/defineTransform/defineSink/defineCheckpointStore/defineConnectionKind as its default export, or an array of them)`,
      }];
    }
    const defs = all.filter(isDefinition);
    for (const extension of all.filter(isExtensionDefinition)) {
      const problem = this.addExtension(extension, origin);
      if (problem) problems.push(problem);
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
    return new PluginRegistry({ empty: true }).addModule(exported, origin);
  }

  private addExtension(def: AnyExtensionDefinition, origin: string): RegistryProblem | undefined {
    const version = (def as { apiVersion?: number }).apiVersion;
    if (version !== undefined && version !== PLUGIN_API_VERSION) {
      return { message: `${origin}: ${kindText(def)} '${def.name}' was built for plugin API ${version}; this sluice runs API ${PLUGIN_API_VERSION}` };
    }
    const existing = def.kind === 'checkpointStore' ? this.checkpointStore(def.name) : this.connectionKind(def.name);
    if (existing === def) return undefined;
    const key = `${def.kind}:${def.name}`;
    if (existing) return { message: `two ${kindText(def)}s are named '${def.name}': one from ${this.extensionOrigins.get(key)}, one from ${origin}` };
    this.extensionOrigins.set(key, origin);
    this.container.register(def.kind === 'checkpointStore' ? Services.CheckpointStoreKind : Services.ConnectionKind, { useValue: def });
    return undefined;
  }

  /** Every checkpoint store kind (`checkpoint.store`), by name. */
  checkpointStores(): AnyCheckpointStoreDefinition[] {
    return checkpointStoreKinds(this.container).sort((a, b) => a.name.localeCompare(b.name));
  }
  checkpointStore(name: string): AnyCheckpointStoreDefinition | undefined {
    return checkpointStoreKinds(this.container).find((def) => def.name === name);
  }

  /** Every connection kind (`connections.<name>.client`), by name. */
  connectionKinds(): ConnectionKindDefinition<object>[] {
    return connectionKinds(this.container).sort((a, b) => a.name.localeCompare(b.name));
  }

  connectionKind(name: string): ConnectionKindDefinition<object> | undefined {
    return connectionKinds(this.container).find((def) => def.name === name);
  }

  /** Where a store or connection kind came from (a package name, or `built-in`). */
  originOf(def: AnyExtensionDefinition): string | undefined {
    return this.extensionOrigins.get(`${def.kind}:${def.name}`);
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
    const copy = new PluginRegistry({ empty: true });
    for (const kind of ['source', 'transform', 'sink'] as const) {
      for (const [name, entry] of this.byKind[kind]) copy.byKind[kind].set(name, entry);
    }
    for (const def of [...checkpointStoreKinds(this.container), ...connectionKinds(this.container)]) copy.addExtension(def, this.originOf(def) ?? 'built-in');
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

function kindText(def: AnyExtensionDefinition): string {
  return def.kind === 'checkpointStore' ? 'checkpoint store' : 'connection kind';
}
