import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, sluice, tempDir } from './support/cli.js';

/** A job whose sink and dead-letter file would land in its folder, if they were written. */
const JOB = `version: 1
name: grades
source:
  use: file
  with: { path: data/in.jsonl }
steps:
  - id: pass
    use: filter
    with: { where: record.score >= 50 }
  - id: grade
    use: map
    with:
      set:
        grade: "record.score >= 90 ? 'A' : 'B'"
        name: record.name.toUpperCase()
    onError: deadLetter
sink:
  use: file
  with: { path: out/grades.jsonl }
deadLetter:
  use: file
  with: { path: out/rejects.jsonl }
`;

function project(testYaml: string): string {
  const dir = join(tempDir('sluice-jobtest-'), 'jobs');
  mkdirSync(dir);
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'grades.yaml'), JOB);
  writeFileSync(join(dir, 'data/in.jsonl'), '{"name":"ada","score":95}\n{"name":"alan","score":40}\n{"score":70}\n');
  writeFileSync(join(dir, 'grades.test.yaml'), testYaml);
  return dir;
}

const PASSING = `job: grades.yaml
tests:
  - name: grades passing scores
    input:
      - { name: ada, score: 95 }
      - { name: alan, score: 40 }
      - { name: grace, score: 60 }
      - { score: 70 }
    expect:
      output:
        - { name: ADA, score: 95, grade: A }
        - { name: GRACE, score: 60, grade: B }
      deadLetters:
        count: 1
        contains:
          - { step: grade, error: "Cannot read properties of undefined", record: { score: 70 } }
      counts: { read: 4, written: 2, filtered: 1, deadLettered: 1 }
  - name: reads an input file like the source would
    input: { file: data/in.jsonl }
    expect:
      output: { count: 1, contains: [{ name: ADA }] }
      deadLetters: { count: 1 }
`;

describe('sluice test', () => {
  it('passes a job test, with the source replaced and nothing written', async () => {
    const dir = project(PASSING);
    const result = await sluice(['test', 'grades.test.yaml'], { cwd: dir });
    expect(result.stderr).toBe('');
    expect(result.stdout.replace(/\((\d+ms|[\d.]+s|\d+m\d+s)\)/g, '(…)')).toBe(
      'PASS grades.test.yaml › grades passing scores (…)\n' +
        'PASS grades.test.yaml › reads an input file like the source would (…)\n' +
        '\n2 tests: 2 passed, 0 failed\n',
    );
    expect(result.code).toBe(0);
    // Sinks and dead letters were captured in memory, and no checkpoint was kept.
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect(existsSync(join(dir, '.sluice'))).toBe(false);
  });

  it('fails a job test with a readable diff of records and dead letters', async () => {
    const dir = project(`job: grades.yaml
tests:
  - name: grades passing scores
    input:
      - { name: ada, score: 95 }
      - { name: grace, score: 60 }
      - { name: edsger, score: 91 }
      - { score: 70 }
    expect:
      output:
        - { name: ADA, score: 95, grade: A }
        - { name: GRACE, score: 60, grade: A }
        - { name: BARBARA, score: 91, grade: A }
      deadLetters:
        - { step: pass, record: { score: 70 } }
      counts: { filtered: 1 }
`);
    // Run from the folder above, as from a repository root: the file shows as jobs/grades.test.yaml.
    const result = await sluice(['test', 'jobs/grades.test.yaml'], { cwd: join(dir, '..') });
    expect(result.code).toBe(1);
    const shown = result.stdout.replace(/\((\d+ms|[\d.]+s|\d+m\d+s)\)/g, '(…)');
    expect(shown).toBe(
      [
        'FAIL jobs/grades.test.yaml:3 › grades passing scores (…)',
        "  sink 'sink': 2 of 3 records differ (- expected, + actual):",
        '      {"grade":"A","name":"ADA","score":95}',
        '    - {"grade":"A","name":"GRACE","score":60}',
        '    + {"grade":"B","name":"GRACE","score":60}',
        '        grade: expected "A", got "B"',
        '    - {"grade":"A","name":"BARBARA","score":91}',
        '    + {"grade":"A","name":"EDSGER","score":91}',
        '        name: expected "BARBARA", got "EDSGER"',
        '  dead letters: 1 of 1 dead letter differs (- expected, + actual):',
        '    - {"record":{"score":70},"step":"pass"}',
        '    + {"record":{"score":70},"step":"grade"}',
        '        step: expected "pass", got "grade"',
        '  counts.filtered: expected 1, got 0',
        '',
        '1 test: 0 passed, 1 failed',
        '',
      ].join('\n'),
    );
    // docs/ci.md shows this very failure.
    const doc = readFileSync(join(ROOT, 'docs/ci.md'), 'utf8').replace(/\((\d+ms|[\d.]+s|\d+m\d+s)\)/g, '(…)');
    expect(doc).toContain('```text\n' + shown + '```');
  });

  it('says which records are missing from a count-and-contains expectation', async () => {
    const dir = project(`job: grades.yaml
tests:
  - name: counts
    input: [{ name: ada, score: 95 }, { name: alan, score: 51 }]
    expect:
      output: { count: 3, contains: [{ name: ADA }, { name: GRACE }] }
`);
    const result = await sluice(['test'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stdout.replace(/\((\d+ms|[\d.]+s|\d+m\d+s)\)/g, '(…)')).toContain(
      [
        'FAIL grades.test.yaml:3 › counts (…)',
        "  sink 'sink': expected 3 records, got 2",
        `  sink 'sink': none matches {"name":"GRACE"}`,
        '    got:',
        '      {"grade":"A","name":"ADA","score":95}',
        '      {"grade":"B","name":"ALAN","score":51}',
      ].join('\n'),
    );
  });

  it('checks that a job fails when the test says so', async () => {
    const dir = project(`job: grades.yaml
tests:
  - name: a failing run
    input: [{ name: ada, score: 95 }]
    env: { UNUSED: "1" }
    expect: { error: "no such thing" }
`);
    const result = await sluice(['test', 'grades.test.yaml'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('  expected the run to fail with "no such thing", but it finished');
  });

  it('reports an invalid test file at its line and column, exit 2', async () => {
    const dir = project(`job: grades.yaml
tests:
  - name: typo
    input: []
    expect:
      outptu: []
`);
    const result = await sluice(['test', 'grades.test.yaml'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe("grades.test.yaml:6:7  tests[0].expect.outptu: unknown key 'outptu'; did you mean 'output'?\n");
    const validate = await sluice(['validate', 'grades.test.yaml', 'grades.yaml'], { cwd: dir });
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain("grades.test.yaml:6:7  tests[0].expect.outptu: unknown key 'outptu'");
    expect(validate.stdout).toContain('grades.yaml: ok');
  });

  it('runs the repository job tests (jobs/*.test.yaml)', async () => {
    const result = await sluice(['test', 'jobs/*.test.yaml'], { cwd: ROOT });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/PASS jobs\/hello\.test\.yaml › /);
    expect(result.stdout).toMatch(/\n\d+ tests?: \d+ passed, 0 failed\n$/);
  });

  it('runs the job test shown in docs/ci.md', async () => {
    const doc = readFileSync(join(ROOT, 'docs/ci.md'), 'utf8');
    const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith('job: hello.yaml'))!;
    const dir = tempDir('sluice-jobtest-doc-');
    writeFileSync(
      join(dir, 'hello.test.yaml'),
      block.replace('job: hello.yaml', `job: ${join(ROOT, 'jobs/hello.yaml')}`).replace('file: data/users.csv', `file: ${join(ROOT, 'jobs/data/users.csv')}`),
    );
    const result = await sluice(['test'], { cwd: dir });
    expect(result.stdout).toMatch(/\n2 tests: 2 passed, 0 failed\n$/);
    expect(result.code).toBe(0);
  });

  it('validates job test files along with the jobs in `sluice validate jobs/*.yaml`', async () => {
    const result = await sluice(['validate', 'jobs/*.yaml'], { cwd: ROOT });
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toContain('jobs/hello.test.yaml: ok');
  });
});
