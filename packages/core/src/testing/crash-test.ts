// `crashTest` for plugin authors: runs one sink (or source) of a plugin module through the same
// crash-test machinery as `sluice crash-test` — an uninterrupted run, then a run killed (SIGKILL)
// at each fault point and resumed — inside a job built around it, and returns the findings.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionConfig } from '../engine/connections.js';
import type { SluiceRecord } from '../plugin/types.js';
import { runCrashTest, type ChildExit, type CrashLauncher, type CrashPoint, type CrashReport } from './crash-harness.js';
import { loadModule } from './crash-module.js';
import { readBackSinks, type SinkUnderTest } from './crash-read-back.js';

export interface CrashTestOptions {
  /** The plugin module (a file path or URL): its default export holds the plugin, as for `use: ./plugin.ts`. */
  readonly module: string | URL;
  /** Test a sink: its plugin name (default: the module's only sink) and its `with`. */
  readonly sink?: { readonly name?: string; readonly config: Record<string, unknown> };
  /** Test a source instead: its plugin name (default: the module's only source) and its `with`. */
  readonly source?: { readonly name?: string; readonly config: Record<string, unknown> };
  /** For a sink: the records the job reads and hands it. */
  readonly records?: readonly SluiceRecord[];
  /** For a source: read at most this many records in each run (whole pages). */
  readonly limit?: number;
  /** Records per batch (default: a tenth of the records, so crashes land mid-run). */
  readonly batchSize?: number;
  /** Points to crash at (default: every point). */
  readonly points?: readonly CrashPoint[];
  /** Crashes in a row per point, each at a later batch (default 1). */
  readonly crashes?: number;
  /** Compare records by this field instead of their whole content. */
  readonly key?: string;
  /** The job's `connections:`. */
  readonly connections?: Record<string, ConnectionConfig>;
  /** The job's `checkpoint:` (default the file store in the scenario's folder). */
  readonly checkpoint?: { readonly store: string; readonly connection?: string };
  /** Where scenarios run (a fresh temp folder by default, deleted afterwards unless given). */
  readonly dir?: string;
}

/** The child runner, beside this file in `dist` (tests may load this file from `src`). */
function childScript(): string {
  const here = fileURLToPath(new URL('./crash-child.js', import.meta.url));
  return existsSync(here) ? here : here.replace(/([\\/])src([\\/]testing[\\/])/, '$1dist$2');
}

/**
 * Runs the crash test and returns its findings; `report.passed` is what a test asserts
 * (`formatCrashReport(report)` makes a readable failure message). Each scenario runs its job in
 * a folder of its own: relative paths in the config (a file, a SQLite database) land there.
 */
export async function crashTest(o: CrashTestOptions): Promise<CrashReport> {
  if (!!o.sink === !!o.source) throw new Error('crashTest: give either sink or source');
  const module = o.module instanceof URL ? fileURLToPath(o.module) : o.module;
  const loaded = await loadModule(module);
  const kind = o.sink ? 'sink' : 'source';
  const wanted = (o.sink ?? o.source)!;
  const candidates = loaded.plugins.filter((p) => p.kind === kind && (wanted.name === undefined || p.name === wanted.name));
  if (candidates.length !== 1) {
    throw new Error(`crashTest: ${module} has ${candidates.length ? 'several' : 'no'} ${kind} plugin${wanted.name ? ` named '${wanted.name}'` : 's'}; name one of: ${loaded.plugins.filter((p) => p.kind === kind).map((p) => p.name).join(', ') || 'none'}`);
  }
  const plugin = candidates[0]!;
  if (o.sink && !o.records) throw new Error('crashTest: a sink needs records to write');
  const records = o.records ?? [];
  const batchSize = o.batchSize ?? Math.max(1, Math.floor(records.length / 10) || 10);
  const scratch = o.dir ?? mkdtempSync(join(tmpdir(), 'sluice-crash-test-'));
  const work = (scenario: string) => join(scratch, scenario, 'work');

  const job = {
    version: 1,
    name: 'crash-test',
    batch: { size: batchSize, inFlight: 4 },
    ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    ...(o.connections ? { connections: o.connections } : {}),
    source: o.source ? { use: plugin.name, with: o.source.config } : { use: 'crash-test-records', with: { file: 'records.json' } },
    sinks: [o.sink ? { id: plugin.name, use: plugin.name, with: o.sink.config } : { id: 'discard', use: 'crash-test-discard' }],
    deadLetter: { use: 'crash-test-discard' },
  };
  const launcher: CrashLauncher = {
    run(scenario, { fresh, env }) {
      const dir = work(scenario);
      if (fresh) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'job.yaml'), JSON.stringify(job, null, 2));
        writeFileSync(join(dir, 'records.json'), JSON.stringify(records, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)));
      }
      return new Promise<ChildExit>((done, fail) => {
        const child = spawn(process.execPath, [childScript(), join(dir, 'job.yaml'), fresh ? 'fresh' : 'resume', module], {
          cwd: dir,
          env: { ...process.env, ...env },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
        child.on('error', fail);
        child.on('close', (code, signal) => done({ code, signal, stderr }));
      });
    },
    async readBack(scenario) {
      if (!o.sink) return [];
      const sink: SinkUnderTest = { id: plugin.name, plugin: plugin as never, config: o.sink.config };
      return readBackSinks([sink], { name: job.name, dir: work(scenario), checkpoint: o.checkpoint ?? { store: 'file' }, connections: o.connections ?? {} });
    },
  };
  try {
    return await runCrashTest(launcher, {
      scratch,
      ...(o.points ? { points: o.points } : {}),
      ...(o.crashes ? { crashes: o.crashes } : {}),
      ...(o.limit !== undefined ? { records: o.limit } : {}),
      ...(o.key !== undefined ? { key: o.key } : {}),
    });
  } finally {
    if (!o.dir) rmSync(scratch, { recursive: true, force: true });
  }
}
