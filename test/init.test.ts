import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

const MADE = [
  'package.json',
  'jobs/hello.yaml',
  'jobs/hello.test.yaml',
  'jobs/data/customers.csv',
  'jobs/.env.example',
  '.vscode/settings.json',
  '.github/workflows/sluice.yml',
  'sluice.schema.json',
  '.gitignore',
];

describe('sluice init', () => {
  it('makes a project whose jobs validate, whose example runs on SQLite and whose job test passes', async () => {
    const dir = join(tempDir('sluice-init-'), 'acme jobs');
    const init = await sluice(['init', dir]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toBe(
      `sluice init: ${dir}\n${MADE.map((f) => `  created ${f}\n`).join('')}next:\n` +
        `  cd '${dir}' && npm install                      # installs @sluice/cli and its plugins\n` +
        '  npx sluice run jobs/hello.yaml       # CSV → jobs/out/hello.db\n  npx sluice test                      # the job tests\n' +
        '  npx sluice new job NAME --from csv-to-postgres   # more: sluice new job --help\n',
    );

    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({
      name: 'acme-jobs',
      private: true,
      scripts: { 'jobs:run': 'sluice run', 'jobs:validate': "sluice validate 'jobs/**/*.yaml'", 'jobs:test': "sluice test 'jobs/**/*.test.yaml'" },
      devDependencies: { '@sluice/cli': '^0.1.0' },
    });
    expect(readFileSync(join(dir, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['.sluice/', 'jobs/out/', '.env']));
    expect(readFileSync(join(dir, 'jobs/hello.yaml'), 'utf8')).toMatch(/^# yaml-language-server: \$schema=\.\.\/sluice\.schema\.json\n/);
    expect(JSON.parse(readFileSync(join(dir, '.vscode/settings.json'), 'utf8'))['yaml.schemas']['./sluice.schema.json']).toContain('jobs/**/*.yaml');
    const workflow = readFileSync(join(dir, '.github/workflows/sluice.yml'), 'utf8');
    expect(workflow).toContain("npx sluice validate 'jobs/**/*.yaml' --format github");
    expect(workflow).toContain("npx sluice test 'jobs/**/*.test.yaml'");

    const validate = await sluice(['validate', 'jobs/**/*.yaml', '--format', 'github'], { cwd: dir });
    expect(validate.stdout).toBe('2 valid, 0 invalid\n');
    expect(validate.code).toBe(0);
    const run = await sluice(['run', 'jobs/hello.yaml', '--progress', 'none'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('read 6 = written 5 + filtered 0 + dead-lettered 1 + skipped 0');
    expect(existsSync(join(dir, 'jobs/out/hello.db'))).toBe(true);
    const test = await sluice(['test'], { cwd: dir });
    expect(test.stdout).toContain('2 tests: 2 passed, 0 failed');
    expect(test.code).toBe(0);
  });

  it('adds to an existing project and overwrites nothing, however often it runs', async () => {
    const dir = tempDir('sluice-init-');
    const manifest = { name: 'shop', version: '3.1.0', scripts: { test: 'vitest', 'jobs:run': 'custom' }, dependencies: { left: '^1.0.0' } };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 4)}\n`);
    writeFileSync(join(dir, '.gitignore'), 'node_modules\ndist/');
    mkdirSync(join(dir, 'jobs'));
    writeFileSync(join(dir, 'jobs/hello.yaml'), 'mine\n');

    const first = await sluice(['init'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('updated package.json (added scripts.jobs:validate, scripts.jobs:test, scripts.jobs:schema, devDependencies @sluice/cli)');
    expect(first.stdout).toContain("kept    package.json script 'jobs:run' (it runs something else)");
    expect(first.stdout).toContain('kept    jobs/hello.yaml');
    expect(first.stdout).toContain('updated .gitignore (added .sluice/ jobs/out/ .env !.env.example)');
    expect(first.stdout).toContain('created jobs/hello.test.yaml');
    const text = readFileSync(join(dir, 'package.json'), 'utf8');
    expect(text).toMatch(/^\{\n {4}"name": "shop",/);
    expect(JSON.parse(text)).toEqual({
      ...manifest,
      scripts: { test: 'vitest', 'jobs:run': 'custom', 'jobs:validate': "sluice validate 'jobs/**/*.yaml'", 'jobs:test': "sluice test 'jobs/**/*.test.yaml'", 'jobs:schema': 'sluice schema --out sluice.schema.json' },
      devDependencies: { '@sluice/cli': '^0.1.0' },
    });
    expect(readFileSync(join(dir, 'jobs/hello.yaml'), 'utf8')).toBe('mine\n');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('node_modules\ndist/\n# sluice\n.sluice/\njobs/out/\n.env\n!.env.example\n');

    const snapshot = MADE.map((f) => readFileSync(join(dir, f), 'utf8'));
    const again = await sluice(['init'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).not.toMatch(/created|updated/);
    expect(MADE.map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(snapshot);
  });

  it('refuses a package.json that is not JSON, and says where', async () => {
    const dir = tempDir('sluice-init-');
    writeFileSync(join(dir, 'package.json'), '{ "name": ');
    const init = await sluice(['init'], { cwd: dir });
    expect(init.code).toBe(2);
    expect(init.stderr).toMatch(/^sluice init: package.json is not valid JSON \(.+\); fix it and run sluice init again\n$/);
  });
});

describe('sluice new job --from', () => {
  it.each(['csv-to-sqlite', 'csv-to-postgres', 'api-to-db', 'table-to-email', 'files-to-files'])('the %s template validates as written', async (template) => {
    const dir = tempDir('sluice-new-job-');
    mkdirSync(join(dir, 'jobs'));
    const made = await sluice(['new', 'job', 'nightly', '--from', template], { cwd: dir });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^created jobs\/nightly\.yaml: .+\nnext: edit it, then npx sluice validate jobs\/nightly\.yaml\n$/);
    // No secrets here: a missing ${env:…} is a warning, anything else would make it invalid.
    const env = { DATABASE_URL: '', API_TOKEN: '', SMTP_URL: '' };
    const validate = await sluice(['validate', 'jobs/nightly.yaml', '--format', 'json'], { cwd: dir, env });
    const result = JSON.parse(validate.stdout);
    expect(result.files[0].diagnostics.filter((d: { severity: string }) => d.severity === 'error')).toEqual([]);
    expect(validate.code).toBe(0);
  });

  it('names the templates when one is misspelt, and never overwrites a job', async () => {
    const dir = tempDir('sluice-new-job-');
    const typo = await sluice(['new', 'job', 'x', '--from', 'csv-to-sqlit'], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown template 'csv-to-sqlit'; did you mean 'csv-to-sqlite'? known: csv-to-sqlite, csv-to-postgres, api-to-db, table-to-email, files-to-files");
    expect((await sluice(['new', 'job', 'x', '--from', 'files-to-files'], { cwd: dir })).code).toBe(0);
    writeFileSync(join(dir, 'x.yaml'), 'mine\n');
    const again = await sluice(['new', 'job', 'x', '--from', 'csv-to-sqlite'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('sluice new: x.yaml exists; choose another NAME or --dir\n');
    expect(readFileSync(join(dir, 'x.yaml'), 'utf8')).toBe('mine\n');
  });
});
