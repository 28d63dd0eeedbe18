import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCheckpointStore } from '../checkpoint/file-store.js';
import { JobRun } from '../engine/run.js';
import { defineSink, defineSource } from '../plugin/define.js';
import { defineCheckpointStore, defineConnectionKind } from '../plugin/extensions.js';
import { PluginRegistry } from '../plugin/registry.js';
import { Services } from '../plugin/services.js';
import { formatDiagnostic } from './diagnostics.js';
import { loadJobText } from './load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-extension-points-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const opened: Array<{ folder: string; partition?: number }> = [];
/** A store kind as a third-party package would add it: files in a folder named by its own option. */
const folderStore = defineCheckpointStore({
  name: 'folder',
  description: 'checkpoints in a folder of its own',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      folder: { type: 'string', minLength: 1, description: 'where' },
      suffix: { type: 'string', default: '-state', description: 'added to the job name' },
    },
    required: ['folder'],
  },
  create: ({ config, dir: jobDir, job }) => {
    opened.push({ folder: config.folder });
    return new FileCheckpointStore(join(jobDir, config.folder), `${job}${config.suffix}`);
  },
});
const ldapKind = defineConnectionKind({
  name: 'ldap',
  description: 'a directory',
  schema: { type: 'object', properties: { url: { type: 'string' }, timeout: { type: 'integer', default: 5 } } },
});

const records = defineSource({
  name: 'three',
  description: 'three records',
  schema: { type: 'object' },
  create: () => ({
    async *read({ cursor }) {
      if (cursor === undefined) yield { records: [{ n: 1 }, { n: 2 }, { n: 3 }], cursor: 3 };
    },
  }),
});
const drop = defineSink({ name: 'drop', description: 'drops', schema: { type: 'object' }, create: () => ({ async write() {} }) });

function registry(): PluginRegistry {
  const r = new PluginRegistry();
  // What a package's default export holds: plugins, a store and a connection kind side by side.
  expect(r.add([records, drop, folderStore, ldapKind], 'test-package')).toEqual([]);
  return r;
}

const job = (extra: string) => `version: 1
name: contributed
${extra}
source: { use: three }
sink: { use: drop }
deadLetter: { use: drop }
`;

describe('checkpoint stores and connection kinds contributed by a package', () => {
  it('are checked by their own schema, with their defaults filled in', async () => {
    const { plan, diagnostics } = await loadJobText(job('checkpoint: { store: folder, folder: state }\nconnections:\n  dir: { client: ldap, url: "ldap://x" }'), { registry: registry(), dir, env: {} });
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(plan!.checkpoint).toEqual({ store: 'folder', folder: 'state', suffix: '-state' });
    expect(plan!.connections.dir).toEqual({ client: 'ldap', url: 'ldap://x', timeout: 5 });
  });

  it('report a wrong option at its place, with the schema of the store named', async () => {
    const { diagnostics } = await loadJobText(job('checkpoint: { store: folder, folder: 3 }\nconnections:\n  dir: { client: ldap, timeout: soon }'), { registry: registry(), dir, displayName: 'j.yaml', env: {} });
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      'j.yaml:3:38  checkpoint.folder: must be a string (got number 3)',
      'j.yaml:5:33  connections.dir.timeout: must be a integer (got string "soon")',
    ]);
  });

  it('are unknown to a registry their package was not added to', async () => {
    const bare = new PluginRegistry();
    expect(bare.add([records, drop], 'test')).toEqual([]);
    const { diagnostics } = await loadJobText(job('checkpoint: { store: folder, folder: state }'), { registry: bare, dir, displayName: 'j.yaml', env: {} });
    expect(diagnostics.map((d) => `${d.line}:${d.col} ${d.message}`)).toEqual(["3:22 unknown checkpoint store 'folder' known: file, none"]);
  });

  it('are refused when two packages name the same store', () => {
    const r = registry();
    const again = defineCheckpointStore({ ...folderStore, description: 'another' });
    expect(r.add([again], 'other-package').map((p) => p.message)).toEqual(["two checkpoint stores are named 'folder': one from test-package, one from other-package"]);
  });

  it('are what a run opens, from a child of the job\'s container', async () => {
    const { plan, diagnostics } = await loadJobText(job('checkpoint: { store: folder, folder: state }'), { registry: registry(), dir, env: {} });
    expect(diagnostics).toEqual([]);
    opened.length = 0;
    const summary = await new JobRun(plan!).run();
    expect(summary.status).toBe('done');
    expect(opened).toEqual([{ folder: 'state' }]);
    const saved = JSON.parse(await readFile(join(dir, 'state', 'contributed-state.json'), 'utf8'));
    expect(saved).toMatchObject({ done: true, cursor: 3 });
    // The run's services live in its own child container, not in the job's.
    expect(plan!.container.isRegistered(Services.Clock, true)).toBe(false);
  });
});
