import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sluice, tempDir } from './support/cli.js';

/** A project whose job stamps each record with ${env:TAG} and filters on ${env:MIN}. */
function project(files: Record<string, string> = {}): string {
  const dir = tempDir('sluice-envfile-');
  mkdirSync(join(dir, 'jobs'));
  writeFileSync(join(dir, 'jobs/in.jsonl'), '{"n":1}\n{"n":2}\n{"n":3}\n');
  writeFileSync(
    join(dir, 'jobs/job.yaml'),
    `version: 1
name: stamp
source: { use: file, with: { path: in.jsonl } }
steps:
  - use: filter
    with: { where: "record.n >= \${env:MIN}" }
  - use: map
    with: { set: { tag: "'\${env:TAG}'" } }
sink: { use: file, with: { path: out/out.jsonl } }
`,
  );
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const output = (dir: string) => readFileSync(join(dir, 'jobs/out/out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
// The test's own environment must not decide what the job sees.
const clean = { TAG: undefined, MIN: undefined, TOKEN: undefined } as unknown as NodeJS.ProcessEnv;

describe('env files', () => {
  it('run reads the .env beside the job; --env-file replaces it (a later file wins); the environment wins over both', async () => {
    const dir = project({ 'jobs/.env': '# beside the job\nTAG=beside\nMIN=2\n', 'a.env': 'TAG=a\nMIN=3\n', 'b.env': 'export TAG="b"\n' });
    const beside = await sluice(['run', 'jobs/job.yaml', '--progress', 'none', '--fresh'], { cwd: dir, env: clean });
    expect(beside.code, beside.stderr).toBe(0);
    expect(output(dir)).toEqual([{ n: 2, tag: 'beside' }, { n: 3, tag: 'beside' }]);

    const files = await sluice(['run', 'jobs/job.yaml', '--progress', 'none', '--fresh', '--env-file', 'a.env', '--env-file', 'b.env'], { cwd: dir, env: clean });
    expect(files.code, files.stderr).toBe(0);
    expect(output(dir)).toEqual([{ n: 3, tag: 'b' }]);

    const environment = await sluice(['run', 'jobs/job.yaml', '--progress', 'none', '--fresh', '--env-file', 'a.env'], { cwd: dir, env: { ...clean, TAG: 'env' } });
    expect(environment.code, environment.stderr).toBe(0);
    expect(output(dir)).toEqual([{ n: 3, tag: 'env' }]);
  });

  it('a value from an env file is a secret: run and validate never print it', async () => {
    const secret = 'hunter2-from-the-env-file';
    const dir = project({ 'secret.env': `TOKEN=${secret}\nTAG=x\nMIN=1\n` });
    writeFileSync(join(dir, 'jobs/job.yaml'), readFileSync(join(dir, 'jobs/job.yaml'), 'utf8').replace('with: { path: in.jsonl } }', 'with: { path: in.jsonl }, onError: "${env:TOKEN}" }'));
    const [ran, validated] = await Promise.all([
      sluice(['run', 'jobs/job.yaml', '--progress', 'json', '--env-file', 'secret.env'], { cwd: dir, env: clean }),
      sluice(['validate', 'jobs/job.yaml', '--format', 'json', '--env-file', 'secret.env'], { cwd: dir, env: clean }),
    ]);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('source.onError');
    expect(validated.code).toBe(1);
    expect(validated.stdout).toContain('source.onError');
    for (const text of [ran.stdout, ran.stderr, validated.stdout, validated.stderr]) expect(text).not.toContain(secret);
  });

  it('validate reads the .env beside each job: its variables are no longer missing', async () => {
    const dir = project();
    const without = await sluice(['validate', 'jobs/job.yaml', '--strict-env'], { cwd: dir, env: clean });
    expect(without.code).toBe(1);
    expect(without.stdout).toContain('environment variable MIN is not set');
    writeFileSync(join(dir, 'jobs/.env'), 'MIN=1\nTAG=t\n');
    const withEnv = await sluice(['validate', 'jobs/job.yaml', '--strict-env'], { cwd: dir, env: clean });
    expect(withEnv.stdout).toBe('jobs/job.yaml: ok\n1 file: 1 valid, 0 invalid\n');
    expect(withEnv.code).toBe(0);
  });

  it('sluice test reads the .env beside the job; --env-file replaces it; the test file’s env: wins; the environment never counts', async () => {
    const dir = project({ 'jobs/.env': 'MIN=2\nTAG=beside\n', 'min1.env': 'MIN=1\n' });
    writeFileSync(
      join(dir, 'jobs/job.test.yaml'),
      'job: job.yaml\nenv: { TAG: from-test }\ntests:\n  - name: keeps n >= MIN, tagged\n    input: [{ n: 1 }, { n: 2 }]\n    expect: { output: [{ n: 2, tag: from-test }] }\n',
    );
    // MIN=2 from the .env beside the job; TAG from the test file over the .env's.
    const beside = await sluice(['test'], { cwd: dir, env: clean });
    expect(beside.stdout, beside.stderr).toContain('1 test: 1 passed, 0 failed');
    expect(beside.code).toBe(0);
    // --env-file replaces the .env: MIN=1 keeps n=1 too, so the expected output no longer matches.
    const replaced = await sluice(['test', '--env-file', 'min1.env', '--format', 'json'], { cwd: dir, env: clean });
    expect(replaced.code, replaced.stderr).toBe(1);
    expect(JSON.parse(replaced.stdout)).toMatchObject({ passed: 0, failed: 1 });
    // Without the .env, MIN from the process environment is not read: the filter cannot compile.
    rmSync(join(dir, 'jobs/.env'));
    const environment = await sluice(['test', '--format', 'json'], { cwd: dir, env: { ...clean, MIN: '2' } });
    expect(environment.code, environment.stderr).toBe(1);
    expect(environment.stdout).toContain('MIN');
  });
});
