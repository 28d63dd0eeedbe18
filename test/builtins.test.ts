import { describe, expect, it } from 'vitest';
import { BUILT_IN_CONTENTS, namesUsed, registryFor } from '../packages/cli/src/builtin-contents.js';
import { BUILT_IN_PACKAGES } from '../packages/cli/src/builtins.js';

const KINDS = ['source', 'transform', 'sink', 'checkpointStore', 'connection'] as const;

describe('the list of what each built-in package contributes (sluice run imports only what a job names)', () => {
  it('names every built-in package', () => {
    expect(BUILT_IN_CONTENTS.map((p) => p.name).sort()).toEqual([...BUILT_IN_PACKAGES].sort());
  });

  it.each(BUILT_IN_CONTENTS.map((p) => [p.name, p] as const))('matches what %s really exports', async (_name, pkg) => {
    const exported = (await pkg.load()).default as Array<{ kind: string; name: string }>;
    for (const kind of KINDS) {
      expect(exported.filter((d) => d.kind === kind).map((d) => d.name).sort(), kind).toEqual([...pkg[kind]].sort());
    }
  });
});

const job = (extra: string) => `version: 1
name: j
source: { use: file, with: { path: in.jsonl } }
${extra}`;

describe('registryFor: the packages a job needs', () => {
  it('a file-to-file job loads the file package only', async () => {
    const registry = await registryFor(job('sink: { use: file, with: { path: out.jsonl } }'));
    expect(registry!.all().map((p) => `${p.definition.kind} ${p.definition.name}`).sort()).toEqual(['sink file', 'source file']);
    expect(registry!.checkpointStores().map((s) => s.name)).toEqual(['file', 'none']);
  });

  it('a sql checkpoint, a pg connection and a transform bring their packages', async () => {
    const registry = await registryFor(
      job('steps: [{ use: map, with: { set: { a: "1" } } }]\nsink: { use: file, with: { path: o.jsonl } }\nconnections: { db: { client: pg } }\ncheckpoint: { store: sql, connection: db }'),
    );
    expect(registry!.names('transform')).toEqual(['dedupe', 'filter', 'map', 'validate']);
    expect(registry!.checkpointStore('sql')).toBeDefined();
    expect(registry!.connectionKind('pg')).toBeDefined();
    expect(registry!.names('sink')).toEqual(['file', 'sql']);
  });

  it.each([
    ['an unknown plugin (its message lists every known one)', job('sink: { use: fiel }')],
    ['a name of another kind', job('steps: [{ use: file }]\nsink: { use: file }')],
    ['a name from the environment', job('sink: { use: "${env:SINK}" }')],
    ['a job with its own plugins', job('plugins: [sluice-plugin-x]\nsink: { use: file }')],
    ['a YAML error', job('sink: { use: file')],
  ])('needs every package for %s', async (_case, text) => {
    expect(await registryFor(text)).toBeUndefined();
  });

  it('reads the default dead-letter sink and checkpoint store as file', () => {
    expect(namesUsed(job('sink: { use: http }'))).toEqual([['source', 'file'], ['sink', 'http'], ['sink', 'file'], ['checkpointStore', 'file']]);
  });
});
