import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { editorSchema } from '@sluice/core/internal';
import { parse, usage, UsageError } from '../args.js';
import { builtInRegistry } from '../builtins.js';
import { shortPath } from '../job.js';
import { CLI_VERSION } from '../version.js';
import { GITIGNORE_LINES, newPackageJson, PROJECT_SCRIPTS, projectFiles } from '../scaffold/project.js';

const USAGE = `usage: sluice init [DIR]

Sets up DIR (default: the current folder) for Sluice jobs, in a new or an existing project:
  package.json                 scripts jobs:run, jobs:validate, jobs:test, jobs:schema and the
                               devDependency @sluice/cli (added to an existing package.json)
  jobs/hello.yaml              an example job: CSV → SQLite, runs at once, no server needed
  jobs/hello.test.yaml         its job test (sluice test)
  jobs/data/customers.csv      its input
  jobs/.env.example            where the jobs' \${env:…} values go (copy to jobs/.env)
  .gitignore                   .sluice/ (checkpoints), jobs/out/, .env (lines added when missing)
  sluice.schema.json           the job schema, and .vscode/settings.json pointing the YAML
                               extension at it (completion and checks as you type)
  .github/workflows/sluice.yml CI: sluice validate --format github, then sluice test

Never overwrites a file: an existing one is kept, and said so.
exit codes: 0 done · 2 usage, or package.json is not valid JSON`;

export async function run(argv: string[]): Promise<number> {
  const { positionals, help } = parse(argv, {}, USAGE);
  if (help) return usage(USAGE);
  if (positionals.length > 1) throw new UsageError(`init takes one folder (got ${positionals.map((p) => `'${p}'`).join(' ')})`, USAGE);
  const dir = resolve(positionals[0] ?? '.');
  // Files by their path in the project; the project by the shorter of its two paths.
  const where = dir === process.cwd() ? '.' : shortPath(dir);
  const made: string[] = [];
  const updated: string[] = [];
  const kept: string[] = [];

  await mkdir(dir, { recursive: true });
  const manifestPath = join(dir, 'package.json');
  let needsInstall = false;
  if (existsSync(manifestPath)) {
    let manifest: Record<string, unknown>;
    try {
      manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      process.stderr.write(`sluice init: ${where === '.' ? 'package.json' : join(where, 'package.json')} is not valid JSON (${(error as Error).message}); fix it and run sluice init again\n`);
      return 2;
    }
    const merged = mergeManifest(manifest);
    if (merged.added.length) {
      // Keep the file's own indentation, so the diff shows only what was added.
      const indent = /^\{\r?\n([ \t]+)"/.exec(readFileSync(manifestPath, 'utf8'))?.[1] ?? 2;
      await writeFile(manifestPath, `${JSON.stringify(merged.manifest, null, indent)}\n`);
      updated.push(`package.json (added ${merged.added.join(', ')})`);
    } else kept.push('package.json');
    for (const name of merged.keptScripts) kept.push(`package.json script '${name}' (it runs something else)`);
    needsInstall = merged.added.includes('devDependencies @sluice/cli');
  } else {
    await writeFile(manifestPath, `${JSON.stringify(newPackageJson(packageName(dir), `^${CLI_VERSION}`), null, 2)}\n`);
    made.push('package.json');
    needsInstall = true;
  }

  const files = { ...projectFiles(), 'sluice.schema.json': `${JSON.stringify(editorSchema(builtInRegistry()), null, 2)}\n` };
  for (const [path, text] of Object.entries(files)) {
    const target = join(dir, path);
    if (existsSync(target)) {
      kept.push(path);
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text, { flag: 'wx' });
    made.push(path);
  }

  const gitignore = join(dir, '.gitignore');
  const present = existsSync(gitignore) ? readFileSync(gitignore, 'utf8') : undefined;
  const have = new Set((present ?? '').split(/\r?\n/).map((l) => l.trim()));
  const missing = GITIGNORE_LINES.filter((line) => !have.has(line) && !have.has(line.replace(/\/$/, '')));
  if (present === undefined) {
    await writeFile(gitignore, `${GITIGNORE_LINES.join('\n')}\n`);
    made.push('.gitignore');
  } else if (missing.length) {
    await appendFile(gitignore, `${present.endsWith('\n') || present === '' ? '' : '\n'}# sluice\n${missing.join('\n')}\n`);
    updated.push(`.gitignore (added ${missing.join(' ')})`);
  } else kept.push('.gitignore');

  const out = process.stdout;
  out.write(`sluice init: ${where}\n`);
  for (const m of made) out.write(`  created ${m}\n`);
  for (const u of updated) out.write(`  updated ${u}\n`);
  for (const k of kept) out.write(`  kept    ${k}\n`);
  const cd = dir === process.cwd() ? '' : `cd ${/[^\w./-]/.test(where) ? `'${where}'` : where} && `;
  out.write(
    `next:\n` +
      (needsInstall ? `  ${cd}npm install                      # installs @sluice/cli and its plugins\n` : cd ? `  ${cd.replace(/ && $/, '')}\n` : '') +
      `  npx sluice run jobs/hello.yaml       # CSV → jobs/out/hello.db\n` +
      `  npx sluice test                      # the job tests\n` +
      `  npx sluice new job NAME --from csv-to-postgres   # more: sluice new job --help\n`,
  );
  return 0;
}

/** Adds the scripts and the devDependency to an existing package.json; what is there stays. */
export function mergeManifest(manifest: Record<string, unknown>): { manifest: Record<string, unknown>; added: string[]; keptScripts: string[] } {
  const added: string[] = [];
  const keptScripts: string[] = [];
  const scripts = { ...((manifest.scripts as Record<string, string> | undefined) ?? {}) };
  for (const [name, command] of Object.entries(PROJECT_SCRIPTS)) {
    if (scripts[name] === undefined) {
      scripts[name] = command;
      added.push(`scripts.${name}`);
    } else if (scripts[name] !== command) keptScripts.push(name);
  }
  const result: Record<string, unknown> = { ...manifest, scripts };
  const deps = (manifest.dependencies as Record<string, string> | undefined) ?? {};
  const devDeps = (manifest.devDependencies as Record<string, string> | undefined) ?? {};
  if (deps['@sluice/cli'] === undefined && devDeps['@sluice/cli'] === undefined) {
    result.devDependencies = { ...devDeps, '@sluice/cli': `^${CLI_VERSION}` };
    added.push('devDependencies @sluice/cli');
  }
  return { manifest: result, added, keptScripts };
}

/** A package name from the folder's name: lowercase, npm's characters only. */
function packageName(dir: string): string {
  const name = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9._~-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '');
  return name || 'sluice-jobs';
}
