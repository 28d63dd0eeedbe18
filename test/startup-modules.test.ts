import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

/**
 * What `sluice run` loads for a job of built-in plugins, seen from inside the child: a module
 * resolve hook (`--import`) writes every module URL Node resolves, CommonJS `require`s included.
 * What a run does not use must not load: start-up is a large part of short runs
 * (bench/results/startup-2026-12-02.md).
 */
const dir = tempDir('sluice-startup-modules-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const log = join(dir, 'modules.log');
writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, resolved.url + '\\n');
  return resolved;
}
`);
writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';
import { createRequire } from 'node:module';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
const Module = createRequire(import.meta.url)('node:module');
const { appendFileSync } = await import('node:fs');
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const exported = load.apply(this, arguments);
  try { appendFileSync(${JSON.stringify(log)}, Module._resolveFilename(request, parent, isMain) + '\\n'); } catch {}
  return exported;
};
`);

async function modulesOf(job: string, extra: string[] = []): Promise<string[]> {
  writeFileSync(join(dir, 'in.csv'), 'id,name,amount\n1,a,10\n2,b,60\n');
  writeFileSync(join(dir, 'job.yaml'), job);
  rmSync(log, { force: true });
  const r = await sluice(['run', 'job.yaml', '--fresh', ...extra], { cwd: dir, env: { NODE_OPTIONS: `--import ${pathToFileURL(join(dir, 'register.mjs')).href}` } });
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

/** The packages (or a package's file) a module list names, from their path under node_modules. */
const loaded = (modules: string[], what: RegExp) => [...new Set(modules.filter((m) => what.test(m)))];

const UNUSED = /node_modules\/(ajv\/dist\/(ajv|core|compile\/)|ajv-formats\/dist\/index|ink|react|knex|pg|mysql2|better-sqlite3|undici|bullmq|ioredis|nodemailer|@opentelemetry|prom-client|tinyglobby|fdir|picomatch)[/.]/;

describe('sluice run of built-in plugins loads only what it uses', () => {
  it.each([
    ['file → file', 'version: 1\nname: ff\nsource: { use: file, with: { path: in.csv } }\nsink: { use: file, with: { path: out.jsonl } }\n'],
    [
      'file → filter, map → file',
      'version: 1\nname: fm\nsource: { use: file, with: { path: in.csv, csv: { cast: true } } }\nsteps:\n  - { use: filter, with: { where: record.amount > 50 } }\n  - { use: map, with: { set: { tag: "\'big\'" } } }\nsink: { use: file, with: { path: out.jsonl } }\n',
    ],
  ])('%s, --progress none: no ajv compiler (its schemas were compiled at build time), no screen, drivers, queue, mail, traces, metrics or globbing (a plain path)', async (_name, job) => {
    const modules = await modulesOf(job, ['--progress', 'none']);
    // The hook saw the run: the CLI, core, the file plugin and yaml.
    expect(loaded(modules, /packages\/plugins\/file\/dist\/source\.js$/)).toHaveLength(1);
    expect(loaded(modules, /node_modules\/yaml\//).length).toBeGreaterThan(0);
    expect(loaded(modules, UNUSED)).toEqual([]);
    // @sluice/core's plugin test kit comes with the public API; the crash tests do not.
    expect(loaded(modules, /packages\/core\/dist\/testing\/(crash-|virtual-clock)|^node:child_process$/)).toEqual([]);
  });

  it('the hook sees ajv when a job needs it compiled: a validate step with its own schema', async () => {
    const modules = await modulesOf(
      'version: 1\nname: fv\nsource: { use: file, with: { path: in.csv } }\nsteps:\n  - { use: validate, with: { schema: { type: object, required: [id] } } }\nsink: { use: file, with: { path: out.jsonl } }\n',
      ['--progress', 'none'],
    );
    expect(loaded(modules, /node_modules\/ajv\/dist\/core\.js$/)).toHaveLength(1);
  });
});
