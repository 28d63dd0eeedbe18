import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadJobText } from '@sluice/core/internal';
import { builtInRegistry } from '../packages/cli/src/builtins.js';

const registry = builtInRegistry();
const dir = mkdtempSync(join(tmpdir(), 'sluice-corpus-'));
writeFileSync(join(dir, 'token.txt'), 's3cret-token\n');

const load = (text: string, env: NodeJS.ProcessEnv = {}, strictEnv = true) =>
  loadJobText(text, { registry, dir, displayName: 'jobs/bad.yaml', env, strictEnv });

/** A valid job; each case below breaks one thing. */
const base = `version: 1
name: bad
source:
  use: file
  with: { path: in.jsonl }
steps:
  - use: filter
    with: { where: record.amount > 10 }
sink:
  use: file
  with: { path: out.jsonl }
`;

describe('a valid job', () => {
  it('loads with no diagnostics', async () => {
    const { plan, diagnostics } = await load(base);
    expect(diagnostics).toEqual([]);
    expect(plan?.name).toBe('bad');
    expect(plan?.steps[0]?.id).toBe('filter');
    expect(plan?.sinks[0]?.id).toBe('sink');
  });
});

// [case, yaml, line, col, path, message fragment]
const corpus: Array<[string, string, number, number, string, string]> = [
  ['YAML syntax error', base.replace('with: { path: in.jsonl }', 'with: { path: in.jsonl'), 6, 1, '', 'invalid YAML'],
  ['wrong type', base.replace('version: 1', 'version: 1\nbatch: { size: many }'), 2, 16, 'batch.size', 'must be a integer (got string "many")'],
  ['unknown top-level key', base.replace('version: 1', 'version: 1\nbach: { size: 10 }'), 2, 1, 'bach', "unknown key 'bach'; did you mean 'batch'?"],
  ['unknown step key', base.replace('  - use: filter', '  - use: filter\n    concurency: 4'), 8, 5, 'steps[0].concurency', "did you mean 'concurrency'?"],
  ['unknown plugin', base.replace('use: filter', 'use: filtr'), 7, 10, 'steps[0].use', "unknown transform plugin 'filtr'; did you mean 'filter'? known: dedupe, filter, http, map, validate"],
  ['plugin of another kind', base.replace('use: filter', 'use: file'), 7, 10, 'steps[0].use', "'file' is not a transform plugin; it is a source and sink plugin"],
  ['unknown with key', base.replace('{ where: record.amount > 10 }', '{ wher: record.amount > 10 }'), 8, 13, 'steps[0].with.wher', "unknown key 'wher'; did you mean 'where'?"],
  ['missing with key', base.replace('with: { where: record.amount > 10 }', 'with: {}'), 8, 11, 'steps[0].with', "missing required key 'where'"],
  ['bad expression', base.replace('record.amount > 10', 'record.amount >> > 10'), 8, 37, 'steps[0].with.where', 'invalid expression'],
  ['sandbox escape: constructor', base.replace('record.amount > 10', 'record.constructor.constructor("return process")()'), 8, 27, 'steps[0].with.where', "'constructor'"],
  ['sandbox escape: globalThis', base.replace('record.amount > 10', 'globalThis.process'), 8, 20, 'steps[0].with.where', 'globalThis'],
  ['sandbox escape: this', base.replace('record.amount > 10', 'this'), 8, 20, 'steps[0].with.where', 'this'],
  ['sandbox escape: import()', base.replace('{ where: record.amount > 10 }', '{ where: "import(\'fs\')" }'), 8, 21, 'steps[0].with.where', 'import'],
  ['sandbox escape: process.exit', base.replace('record.amount > 10', 'process.exit()'), 8, 20, 'steps[0].with.where', "'process'"],
  ['bad when expression', base.replace('  - use: filter', '  - use: filter\n    when: record.a =='), 8, 22, 'steps[0].when', 'invalid expression'],
  ['missing env var', base.replace('path: out.jsonl', 'path: "${env:OUT_PATH}"'), 11, 17, 'sink.with.path', 'environment variable OUT_PATH is not set'],
  ['missing file reference', base.replace('path: out.jsonl', 'path: "${file:./nope.txt}"'), 11, 17, 'sink.with.path', 'cannot read ${file:./nope.txt}'],
  ['bad duration', base.replace('  - use: filter', '  - use: filter\n    timeout: 5 seconds'), 8, 14, 'steps[0].timeout', 'must be a duration like 250ms'],
  ['bad rate', base.replace('  - use: filter', '  - use: filter\n    rateLimit: fast'), 8, 16, 'steps[0].rateLimit', 'must be a rate like 100/s'],
  ['bad onError', base.replace('  - use: filter', '  - use: filter\n    onError: ignore'), 8, 14, 'steps[0].onError', 'must be one of fail, skip, deadLetter (got "ignore")'],
  ['bad job name', base.replace('name: bad', 'name: Bad Name'), 2, 7, 'name', 'lowercase letters, digits and dashes'],
  ['wrong version', base.replace('version: 1', 'version: 2'), 1, 10, 'version', 'must be 1 (got 2)'],
  ['both sink and sinks', base + 'sinks:\n  - use: file\n    with: { path: b.jsonl }\n', 13, 3, 'sinks', 'either sink: or sinks:'],
  ['no sink', base.replace(/sink:\n  use: file\n  with: \{ path: out.jsonl \}\n/, ''), 1, 1, '', "missing required key 'sink'"],
  ['bad with type for a plugin option', base.replace('with: { path: out.jsonl }', 'with: { path: 42 }'), 11, 17, 'sink.with.path', 'must be a string'],
  ['unknown checkpoint connection', base + 'checkpoint: { store: sql, connection: wh }\n', 12, 39, 'checkpoint.connection', "unknown connection 'wh'"],
  // Stores and connection kinds are checked by the schema of the package that adds them.
  ['unknown checkpoint store', base + 'checkpoint: { store: redsi }\n', 12, 22, 'checkpoint.store', "unknown checkpoint store 'redsi'; did you mean 'redis'? known: file, none, redis, sql"],
  ['redis store without url', base + 'checkpoint: { store: redis }\n', 12, 13, 'checkpoint', 'checkpoint store redis needs url: redis://host:6379'],
  ['sql store without connection', base + 'checkpoint: { store: sql }\n', 12, 13, 'checkpoint', 'checkpoint store sql needs connection: <name of a connection>'],
  ['an option of another store', base + 'checkpoint: { store: file, prefix: x }\n', 12, 28, 'checkpoint.prefix', "unknown key 'prefix'"],
  ['bad redis prefix', base + 'checkpoint: { store: redis, url: "redis://127.0.0.1:6379", prefix: "a b" }\n', 12, 68, 'checkpoint.prefix', 'must match pattern'],
  ['unknown connection client', base.replace('version: 1', 'version: 1\nconnections:\n  db: { client: mysql, url: "mysql://localhost/x" }'), 3, 17, 'connections.db.client', "unknown client 'mysql'; did you mean 'mysql2'? known: better-sqlite3, mysql2, pg"],
  ['a swapped pair of letters', base.replace('version: 1', 'version: 1\nbacth: { size: 10 }'), 2, 1, 'bacth', "unknown key 'bacth'; did you mean 'batch'?"],
  ['a key in the wrong case', base.replace('version: 1', 'version: 1\ndeadletter: { use: file, with: { path: x.jsonl } }'), 2, 1, 'deadletter', "did you mean 'deadLetter'?"],
  ['a swapped pair in a step key', base.replace('  - use: filter', '  - use: filter\n    tiemout: 5s'), 8, 5, 'steps[0].tiemout', "did you mean 'timeout'?"],
  [
    'a sink naming a connection the job does not define',
    base.replace('version: 1', 'version: 1\nconnections:\n  pg: { client: pg, url: "postgres://localhost/x" }').replace('sink:\n  use: file\n  with: { path: out.jsonl }', 'sink:\n  use: sql\n  with: { connection: warehouse, table: t }'),
    13, 23, 'sink.with.connection', "unknown connection 'warehouse'",
  ],
  [
    'a source naming a connection with a typo',
    base.replace('version: 1', 'version: 1\nconnections:\n  warehouse: { client: pg, url: "postgres://localhost/x" }').replace('use: file\n  with: { path: in.jsonl }', 'use: sql\n  with: { connection: warehouse2, table: t, key: id }'),
    7, 23, 'source.with.connection', "did you mean 'warehouse'? known connections: warehouse",
  ],
];

describe('invalid jobs point at the place and say what is wrong', () => {
  it.each(corpus)('%s', async (_name, yaml, line, col, path, fragment) => {
    const { plan, diagnostics } = await load(yaml);
    expect(plan).toBeUndefined();
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const match = errors.find((d) => d.message.includes(fragment) || formatDiagnostic(d).includes(fragment));
    expect(match, `no error containing ${JSON.stringify(fragment)} in:\n${errors.map(formatDiagnostic).join('\n')}`).toBeDefined();
    expect({ line: match!.line, col: match!.col, path: match!.path }).toEqual({ line, col, path });
    expect(formatDiagnostic(match!)).toMatch(new RegExp(`^jobs/bad\\.yaml:${line}:${col}  `));
  });
});

describe('interpolation', () => {
  it('replaces env and file references and keeps their values as secrets', async () => {
    const yaml = base.replace('path: out.jsonl', 'path: "out-${env:SUFFIX}.jsonl"').replace('path: in.jsonl', 'path: "in-${file:./token.txt}.jsonl"');
    const { plan, diagnostics } = await load(yaml, { SUFFIX: 'abc' });
    expect(diagnostics).toEqual([]);
    expect(plan!.sinks[0]!.config.path).toBe('out-abc.jsonl');
    expect(plan!.source.config.path).toBe('in-s3cret-token.jsonl');
    expect(plan!.secrets).toEqual(expect.arrayContaining(['abc', 's3cret-token']));
  });

  it('uses the default of ${env:NAME:-default} and turns a whole-number reference into a number', async () => {
    const yaml = base.replace('version: 1', 'version: 1\nbatch: { size: "${env:BATCH:-250}" }');
    const { plan } = await load(yaml);
    expect(plan!.batch.size).toBe(250);
  });

  it('reports a missing variable as a warning when env is not strict (validate in CI)', async () => {
    const { plan, diagnostics } = await load(base.replace('path: out.jsonl', 'path: "out/${env:OUT_PATH}/x.jsonl"'), {}, false);
    expect(plan).toBeDefined();
    expect(diagnostics).toMatchObject([{ severity: 'warning', line: 11, message: 'environment variable OUT_PATH is not set' }]);
  });

  it('keeps the fingerprint when a secret changes, and changes it when a step changes', async () => {
    const yaml = base.replace('path: out.jsonl', 'path: "out/${env:OUT}/x.jsonl"');
    const a = await load(yaml, { OUT: 'one' });
    const b = await load(yaml, { OUT: 'two' });
    const c = await load(yaml.replace('> 10', '> 11'), { OUT: 'one' });
    expect(a.plan!.fingerprint).toBe(b.plan!.fingerprint);
    expect(c.plan!.fingerprint).not.toBe(a.plan!.fingerprint);
  });

  it('applies --set before validation', async () => {
    const { plan } = await loadJobText(base, { registry, dir, sets: ['batch.size=7', 'steps[0].with.where=record.x > 1'], env: {} });
    expect(plan!.batch.size).toBe(7);
    expect(plan!.steps[0]!.config.where).toBe('record.x > 1');
  });
});

describe('every problem is reported, not only the first', () => {
  it('collects errors across the file', async () => {
    const yaml = base.replace('version: 1', 'version: 1\nbach: 1').replace('use: filter', 'use: filtr').replace('path: out.jsonl', 'path: 3');
    const { diagnostics } = await load(yaml);
    const messages = diagnostics.map((d) => d.message).join('\n');
    expect(messages).toContain("unknown key 'bach'");
    expect(messages).toContain("unknown transform plugin 'filtr'");
    expect(messages).toContain('must be a string (got number 3)');
  });
});

describe('an unquoted expression that breaks the YAML is one error saying to quote it', () => {
  const job = (steps: string) => base.replace("  - use: filter\n    with: { where: record.amount > 10 }\n", steps);
  // [case, steps: block, line, col, path, suggested fix]
  it.each<[string, string, number, number, string, string]>([
    ['a ternary with strings', "  - use: filter\n    with:\n      where: record.a > 1 ? 'x' : 'y'\n", 9, 14, 'steps[0].with.where', `where: "record.a > 1 ? 'x' : 'y'"`],
    ['a leading quoted string', "  - use: filter\n    with:\n      where: 'a' + record.b == 'ab'\n", 9, 14, 'steps[0].with.where', `where: "'a' + record.b == 'ab'"`],
    ['a leading array', '  - use: filter\n    with:\n      where: [1, 2].includes(record.a)\n', 9, 14, 'steps[0].with.where', 'where: "[1, 2].includes(record.a)"'],
    ['a negation read as a YAML tag', '  - use: filter\n    with:\n      where: !record.deleted\n', 9, 14, 'steps[0].with.where', 'where: "!record.deleted"'],
    ['a template literal', '  - use: filter\n    with:\n      where: `${record.a}` == "1"\n', 9, 14, 'steps[0].with.where', "where: '`${record.a}` == \"1\"'"],
    ['a set value with a colon', "  - use: map\n    with:\n      set:\n        label: record.kind == 'a' ? 'A: first' : 'B'\n", 10, 16, 'steps[0].with.set.label', `label: "record.kind == 'a' ? 'A: first' : 'B'"`],
    ['a when', "  - use: filter\n    when: record.t ? 'a' : 'b'\n    with: { where: record.a }\n", 8, 11, 'steps[0].when', `when: "record.t ? 'a' : 'b'"`],
    ['an expression in a flow mapping', '  - use: filter\n    with: { where: record.tags.includes(record.a) && { x: 1 }.x }\n', 8, 20, 'steps[0].with.where', 'where: "…"'],
    ['a template', '  - use: http\n    with:\n      url: {{ record.base }}/v1\n', 9, 12, 'steps[0].with.url', 'url: "{{ record.base }}/v1"'],
  ])('%s', async (_name, steps, line, col, path, fix) => {
    const { plan, diagnostics } = await load(job(steps));
    expect(plan).toBeUndefined();
    expect(diagnostics.map(formatDiagnostic)).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({ severity: 'error', line, col, path });
    expect(diagnostics[0]!.message).toMatch(/^the (expression|template) must be quoted/);
    expect(diagnostics[0]!.hint).toContain(`write ${fix}`);
  });

  it('names one error per broken expression, and none for the parser errors that follow', async () => {
    const { diagnostics } = await load(
      job("  - use: filter\n    with:\n      where: record.a > 1 ? 'x' : 'y'\n  - use: map\n    with:\n      set:\n        b: record.b ? 'x' : 'y'\n"),
    );
    expect(diagnostics.map((d) => [d.line, d.path])).toEqual([[9, 'steps[0].with.where'], [13, 'steps[1].with.set.b']]);
  });

  it('does not talk about expressions for a YAML error elsewhere', async () => {
    const { diagnostics } = await load(base.replace('with: { path: in.jsonl }', 'with: { path: [in.jsonl }'));
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.message).toMatch(/^invalid YAML: /);
    expect(diagnostics[0]!.hint).toBeUndefined();
  });

  it.each([
    ['an expression', '  - use: filter\n    with:\n      where: true\n', 'steps[0].with.where', 'must be a string (got boolean true)'],
    ['a template', '  - use: http\n    with:\n      url: {{ record.url }}\n', 'steps[0].with.url', 'must be a string (got a mapping)'],
  ])('says to quote %s that YAML read as another type', async (_name, steps, path, message) => {
    const { diagnostics } = await load(job(steps));
    expect(diagnostics).toMatchObject([{ path, message, hint: expect.stringContaining('quote it') }]);
  });
});

describe('diagnostics', () => {
  it('come in the order of the file, whatever found them', async () => {
    const yaml = base
      .replace('version: 1', 'version: 1\nconnections:\n  pg: { client: pg }')
      .replace('use: filter', 'use: filtr')
      .replace('sink:\n  use: file\n  with: { path: out.jsonl }', 'sink:\n  use: sql\n  with: { connection: nope, table: t }\nbacth: 3');
    const { diagnostics } = await load(yaml);
    expect(diagnostics.map((d) => d.path)).toEqual(['steps[0].use', 'sink.with.connection', 'bacth']);
    expect(diagnostics.map((d) => d.line)).toEqual([...diagnostics.map((d) => d.line)].sort((a, b) => a - b));
  });

  it('suggest by case and by swapped letters, not for far-off words', async () => {
    const { didYouMean, typoDistance } = await import('../packages/core/src/job/diagnostics.js');
    expect(typoDistance('bacth', 'batch')).toBe(1);
    expect(didYouMean('Batch', ['batch', 'sink'])).toBe('batch');
    expect(didYouMean('sinks2', ['sink', 'sinks'])).toBe('sinks');
    expect(didYouMean('zzz', ['batch', 'sink'])).toBeUndefined();
  });
});
