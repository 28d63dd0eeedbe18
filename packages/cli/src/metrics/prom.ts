import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The parts of prom-client sluice uses. */
export interface Prom {
  Registry: typeof import('prom-client').Registry;
  Counter: typeof import('prom-client').Counter;
  Gauge: typeof import('prom-client').Gauge;
  /** A module of prom-client's `lib/` (a default collector: `metrics/gc`). */
  lib(name: string): unknown;
  /** Where the modules came from: the build's bundle of them, or prom-client's files one by one. */
  readonly from: 'bundle' | 'modules';
}

/** What scripts/bundle-prom-client.mjs writes beside this module's build (dist/metrics/). */
interface Bundle {
  lib(name: string): unknown;
  /** The modules run so far, as `lib/<name>` names them. */
  loaded(): string[];
}

/** The bundle in use in this process, once loadProm found one. */
let inUse: Bundle | undefined;

/** The bundle's file name: made from prom-client `version`. */
export const bundleFile = (version: string): string => `prom-client-${version}.cjs`;

/**
 * prom-client's own modules, without its index: that loads the Pushgateway client (https, hence
 * tls), the cluster aggregator, Summary (tdigest) and, for process_cpu_*, @opentelemetry/api —
 * about half the CPU time of `import('prom-client')`, paid by every `--metrics` run for code
 * sluice never calls (bench/results/metrics-overhead-instructions-*.md). The modules it needs
 * (prom-modules.ts) come from one file the build bundles them into, when it is there and made from
 * the installed prom-client's version: one file read and compiled instead of ~30 resolved, read
 * and compiled one by one, about 10 ms of CPU less per process
 * (bench/results/metrics-overhead-fixed-2026-12-02.md). Otherwise (sources run by vitest, a build
 * by `tsc -b` alone, another prom-client installed since) from prom-client's files by their paths,
 * those of prom-client 15 (it declares no `exports`, so they are reachable); a moved file fails
 * here, at the first `--metrics`, and in registry.test.ts.
 */
export function loadProm(): Prom {
  const require = createRequire(import.meta.url);
  const bundled = (inUse ??= bundle(require));
  const lib = bundled ? (name: string): unknown => bundled.lib(name) : (name: string): unknown => require(`prom-client/lib/${name}`);
  return {
    Registry: lib('registry') as Prom['Registry'],
    Counter: lib('counter') as Prom['Counter'],
    Gauge: lib('gauge') as Prom['Gauge'],
    lib,
    from: bundled ? 'bundle' : 'modules',
  };
}

/** The modules of prom-client's `lib/` this process has run (`metrics/gc`), from the bundle or the files. */
export function loadedPromModules(): string[] {
  const require = createRequire(import.meta.url);
  const files = Object.keys(require.cache).flatMap((path) => /\/prom-client\/lib\/(.+)\.js$/.exec(path)?.[1] ?? []);
  return [...files, ...(inUse?.loaded() ?? [])].sort();
}

function bundle(require: NodeJS.Require): Bundle | undefined {
  const installed = (require('prom-client/package.json') as { version: string }).version;
  const file = fileURLToPath(new URL(bundleFile(installed), import.meta.url));
  return existsSync(file) ? (require(file) as Bundle) : undefined;
}
