import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir } from './support/cli.js';

const GOOD = `version: 1
name: good
source:
  use: file
  with: { path: in.jsonl }
sink:
  use: file
  with: { path: out.jsonl }
`;

// Line 8: `with:`'s mapping at column 11, the key `wher` at 13; line 11, column 17: the value of `path`.
const BAD = `version: 1
name: bad
source:
  use: file
  with: { path: in.jsonl }
steps:
  - use: filter
    with: { wher: record.amount > 10 }
sink:
  use: file
  with: { path: 42 }
`;

const SECRET = GOOD.replace('name: good', 'name: secret').replace('path: out.jsonl', 'path: "${env:SLUICE_TEST_OUT_DIR}/out.jsonl"');

/** `::error file=…,line=…,col=…::message` — GitHub's workflow command for an annotation. */
const ANNOTATION = /^::(error|warning) file=([^,:]+)(,line=(\d+),col=(\d+))?::(.*)$/;

function dir(): string {
  const d = tempDir('sluice-validate-');
  writeFileSync(join(d, 'good.yaml'), GOOD);
  writeFileSync(join(d, 'bad.yaml'), BAD);
  writeFileSync(join(d, 'secret.yaml'), SECRET);
  return d;
}

const envWithout = () => {
  const env = { ...process.env };
  delete env.SLUICE_TEST_OUT_DIR;
  return env;
};

describe('sluice validate --format github', () => {
  it('prints one annotation per problem, at the file, line and column', async () => {
    const result = await sluice(['validate', '--format', 'github', '*.yaml'], { cwd: dir(), env: envWithout() });
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      "::error file=bad.yaml,line=8,col=11::steps[0].with: missing required key 'where'",
      "::error file=bad.yaml,line=8,col=13::steps[0].with.wher: unknown key 'wher'; did you mean 'where'?%0Ahint: known keys here: where",
      '::error file=bad.yaml,line=11,col=17::sink.with.path: must be a string (got number 42)',
      '::warning file=secret.yaml,line=8,col=17::sink.with.path: environment variable SLUICE_TEST_OUT_DIR is not set%0Ahint: export SLUICE_TEST_OUT_DIR=… or write ${env:SLUICE_TEST_OUT_DIR:-default}',
      '2 valid, 1 invalid',
    ]);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(ANNOTATION);
  });

  it('escapes the file property and annotates a file without a place', async () => {
    const d = tempDir('sluice-validate-');
    writeFileSync(join(d, 'a,b.yaml'), 'version: 1\nname: x\n');
    mkdirSync(join(d, 'folder.yaml'));
    const result = await sluice(['validate', '--format', 'github', 'a,b.yaml', 'folder.yaml'], { cwd: d });
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      "::error file=a%2Cb.yaml,line=1,col=1::missing required key 'source'",
      "::error file=a%2Cb.yaml,line=1,col=1::missing required key 'sink'%0Ahint: add sink: { use: file, with: { path: out/result.jsonl } }",
      '::error file=folder.yaml::cannot read: EISDIR',
      '0 valid, 2 invalid',
    ]);
    for (const line of lines.slice(0, -1)) expect(line).toMatch(ANNOTATION);
  });
});

describe('sluice validate for CI', () => {
  it('exits 0 for valid jobs, 1 for an invalid one, 2 for a usage mistake', async () => {
    const d = dir();
    expect((await sluice(['validate', 'good.yaml'], { cwd: d })).code).toBe(0);
    expect((await sluice(['validate', 'good.yaml', 'bad.yaml'], { cwd: d })).code).toBe(1);
    expect((await sluice(['validate', 'nothing-*.yaml'], { cwd: d })).code).toBe(2);
    expect((await sluice(['validate', '--format', 'xml', 'good.yaml'], { cwd: d })).code).toBe(2);
    expect((await sluice(['validate'], { cwd: d })).code).toBe(2);
  });

  it('needs no secrets: a missing variable is a warning, and an error only with --strict-env', async () => {
    const d = dir();
    const lax = await sluice(['validate', 'secret.yaml'], { cwd: d, env: envWithout() });
    expect(lax.code).toBe(0);
    expect(lax.stdout).toContain('secret.yaml:8:17  warning: sink.with.path: environment variable SLUICE_TEST_OUT_DIR is not set');
    expect(lax.stdout).toContain('secret.yaml: ok (1 warning)');
    const strict = await sluice(['validate', '--strict-env', 'secret.yaml'], { cwd: d, env: envWithout() });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('secret.yaml:8:17  sink.with.path: environment variable SLUICE_TEST_OUT_DIR is not set');
  });

  it('reports as JSON with --format json', async () => {
    const result = await sluice(['validate', '--format', 'json', 'good.yaml', 'bad.yaml'], { cwd: dir() });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.valid).toBe(false);
    expect(report.files.map((f: { file: string; valid: boolean }) => [f.file, f.valid])).toEqual([
      ['good.yaml', true],
      ['bad.yaml', false],
    ]);
    expect(report.files[1].diagnostics).toContainEqual(
      expect.objectContaining({ severity: 'error', line: 8, col: 13, path: 'steps[0].with.wher', message: "unknown key 'wher'; did you mean 'where'?" }),
    );
  });

  it('never runs an expression or a plugin: a job whose expressions and plugin would throw still validates', async () => {
    const d = tempDir('sluice-validate-');
    writeFileSync(join(d, 'boom.mjs'), `
      import { writeFileSync } from 'node:fs';
      export default { name: 'boom', kind: 'transform', apiVersion: 1, description: 'x', schema: { type: 'object' },
        create() { writeFileSync(${JSON.stringify(join(d, 'created'))}, 'yes'); throw new Error('created'); } };
    `);
    writeFileSync(join(d, 'job.yaml'), GOOD.replace('sink:', 'steps:\n  - use: ./boom.mjs\n  - use: filter\n    with: { where: "record.a.b.c.d > 1" }\nsink:'));
    const result = await sluice(['validate', 'job.yaml'], { cwd: d });
    expect(result.stdout, result.stdout).toContain('job.yaml: ok');
    expect(result.code).toBe(0);
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(d, 'created'))).toBe(false);
  });
});

describe('docs/ci.md', () => {
  const doc = readFileSync(join(ROOT, 'docs/ci.md'), 'utf8');
  const blocks = (lang: string) => [...doc.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);

  it('shows annotations in the syntax sluice prints', () => {
    const example = blocks('text').find((b) => b.trimStart().startsWith('::error'))!;
    const lines = example.trimEnd().split('\n').map((l) => l.trim());
    for (const line of lines.slice(0, -1)) expect(line).toMatch(ANNOTATION);
    expect(lines.at(-1)).toMatch(/^\d+ valid, \d+ invalid$/);
  });

  it('gives a GitHub Actions workflow and a pre-commit config that parse and call the commands as the CLI takes them', () => {
    const workflow = parse(blocks('yaml').find((b) => b.startsWith('name: jobs'))!);
    const runs: string[] = workflow.jobs.check.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(runs).toContain("npx sluice validate 'jobs/**/*.yaml' --format github");
    expect(runs).toContain("npx sluice test 'jobs/**/*.test.yaml'");
    const hooks = parse(blocks('yaml').find((b) => b.startsWith('repos:'))!).repos[0].hooks;
    expect(hooks.map((h: { entry: string }) => h.entry)).toEqual(['npx sluice validate', 'npx sluice test']);
    expect(blocks('sh').find((b) => b.startsWith('#!/bin/sh'))).toContain('npx sluice validate $files');
  });

  it("the workflow's validate and test steps pass on this repository's jobs", async () => {
    const validate = await sluice(['validate', 'jobs/**/*.yaml', '--format', 'github'], { cwd: ROOT });
    expect(validate.code, validate.stdout).toBe(0);
    expect(validate.stdout).not.toContain('::error');
    const test = await sluice(['test', 'jobs/**/*.test.yaml'], { cwd: ROOT });
    expect(test.code, test.stdout).toBe(0);
  });
});
