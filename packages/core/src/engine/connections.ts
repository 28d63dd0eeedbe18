/** A named connection from the job's `connections:` block, opened once per run and shared. */
export interface ConnectionConfig {
  readonly client?: string;
  readonly url?: string;
  readonly [key: string]: unknown;
}

/** What a plugin's `open` callback returns to `ctx.connections.acquire`: the shared value and how to close it. */
export interface OpenedConnection<T> {
  readonly value: T;
  close(): Promise<void> | void;
}

/**
 * One instance per named connection per run, shared by every step that names it and closed when
 * the run ends (also on failure and on a signal).
 */
export interface ConnectionRegistry {
  /** The config of a named connection; throws a clear error naming the known ones. */
  config(name: string): ConnectionConfig;
  names(): string[];
  /**
   * Opens the connection on first use with `open` and returns the shared value afterwards.
   * `demand` is the caller's concurrency, so a pool can be sized to every step that uses it.
   */
  acquire<T>(name: string, open: (config: ConnectionConfig, demand: number) => Promise<OpenedConnection<T>>): Promise<T>;
  /** Declares that a step will use `name` with `demand` concurrent users (before any acquire). */
  declare(name: string, demand: number): void;
}

export class RunConnections implements ConnectionRegistry {
  private readonly opened = new Map<string, Promise<OpenedConnection<unknown>>>();
  private readonly demand = new Map<string, number>();

  constructor(private readonly configs: Readonly<Record<string, ConnectionConfig>>) {}

  config(name: string): ConnectionConfig {
    const config = this.configs[name];
    if (!config) {
      const known = this.names();
      throw new Error(
        `unknown connection '${name}'; ${known.length ? `known: ${known.join(', ')}` : 'the job has no connections: block'}`,
      );
    }
    return config;
  }

  names(): string[] {
    return Object.keys(this.configs);
  }

  declare(name: string, demand: number): void {
    this.demand.set(name, (this.demand.get(name) ?? 0) + demand);
  }

  acquire<T>(name: string, open: (config: ConnectionConfig, demand: number) => Promise<OpenedConnection<T>>): Promise<T> {
    const config = this.config(name);
    let pending = this.opened.get(name);
    if (!pending) {
      pending = open(config, Math.max(1, this.demand.get(name) ?? 1));
      this.opened.set(name, pending);
      pending.catch(() => this.opened.delete(name));
    }
    return pending.then((c) => c.value as T);
  }

  /** Closes every opened connection; errors are collected, not thrown past the others. */
  async closeAll(): Promise<Error[]> {
    const errors: Error[] = [];
    for (const [name, pending] of this.opened) {
      try {
        await (await pending).close();
      } catch (error) {
        errors.push(new Error(`closing connection '${name}' failed`, { cause: error }));
      }
    }
    this.opened.clear();
    return errors;
  }
}
