// The child process of `crashTest`: runs a job file once with the engine, as `sluice run` would
// (without the CLI, which plugin packages need not depend on). The engine's crash-test hook is
// armed by SLUICE_FAULTS, set by the parent. Usage: node crash-child.js JOB.yaml fresh|resume MODULE
// — MODULE: the plugin module under test; its plugins are known by name, and its
// `checkpointStores` (checkpoint.store: sql) are available.
import { formatDiagnostic } from '../job/diagnostics.js';
import { loadJob } from '../job/load.js';
import { PluginRegistry } from '../plugin/registry.js';
import { JobRun } from '../engine/run.js';
import crashPlugins from './crash-plugins.js';
import { loadModule } from './crash-module.js';

async function main(): Promise<number> {
  const [file, mode, module] = process.argv.slice(2);
  const loaded = await loadModule(module!);
  const registry = new PluginRegistry();
  for (const problem of [...registry.addModule(crashPlugins, 'crashTest'), ...registry.addModule(loaded.plugins, module!)]) process.stderr.write(`${problem}\n`);
  const { plan, diagnostics } = await loadJob(file!, { registry, strictEnv: true });
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!plan) return 2;
  const summary = await new JobRun(plan, { fresh: mode === 'fresh', checkpointStores: loaded.checkpointStores }).run();
  if (summary.status !== 'done') process.stderr.write(`${summary.status}: ${summary.error ?? ''}\n`);
  return summary.status === 'done' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  },
);
