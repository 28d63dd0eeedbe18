import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { compileSchema, didYouMean, displayPath, locate, parseYaml, type Diagnostic } from '@sluice/core/internal';

/** What a sink's output (or the dead letters) should be: exactly these, or a count and some of them. */
export type Expectation = readonly Record<string, unknown>[] | { readonly count?: number; readonly contains?: readonly Record<string, unknown>[] };

/** One case of a job test file. */
export interface JobTestCase {
  readonly name: string;
  /** JSON pointer of the case in its file, for messages. */
  readonly pointer: string;
  readonly line: number;
  readonly input: { readonly records: readonly Record<string, unknown>[] } | { readonly file: string; readonly with: Record<string, unknown> };
  readonly env: Readonly<Record<string, string>>;
  readonly expect: {
    readonly output?: Expectation;
    readonly sinks?: Readonly<Record<string, Expectation>>;
    readonly deadLetters?: Expectation;
    readonly counts?: Readonly<Record<string, number>>;
    readonly error?: string;
  };
}

/** A `*.test.yaml` file: the job it tests and its cases. */
export interface JobTestFile {
  readonly file: string;
  /** The job file, absolute. */
  readonly job: string;
  readonly cases: JobTestCase[];
}

const expectation = {
  description: 'Exactly these records, in order (a list), or a count and records that must be among them.',
  oneOf: [
    { type: 'array', items: { type: 'object' } },
    {
      type: 'object',
      additionalProperties: false,
      properties: {
        count: { type: 'integer', minimum: 0, description: 'How many there must be.' },
        contains: { type: 'array', items: { type: 'object' }, description: 'Each must match one of them, on the fields it names.' },
      },
    },
  ],
} as const;

const env = {
  type: 'object',
  additionalProperties: { type: ['string', 'number', 'boolean'] },
  description: 'Environment variables for ${env:…} in the job; tests never need the real secrets.',
} as const;

/** JSON Schema of a job test file. */
export const jobTestSchema = {
  $id: 'https://sluice.dev/schema/job-test.json',
  type: 'object',
  additionalProperties: false,
  required: ['job', 'tests'],
  properties: {
    $schema: { type: 'string' },
    job: { type: 'string', minLength: 1, description: 'The job file under test, relative to this file.' },
    env,
    tests: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'input', 'expect'],
        properties: {
          name: { type: 'string', minLength: 1 },
          env,
          input: {
            description: "Records that replace the job's source: a list, or { file: path, …file source options }.",
            oneOf: [
              { type: 'array', items: { type: 'object' } },
              { type: 'object', required: ['file'], properties: { file: { type: 'string', minLength: 1 } } },
            ],
          },
          expect: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: {
              output: { ...expectation, description: `The one sink's records. ${expectation.description}` },
              sinks: { type: 'object', additionalProperties: expectation, description: 'Each sink by id, for jobs with sinks:.' },
              deadLetters: { ...expectation, description: `Dead-letter entries ({ step, error, record, … }), matched on the fields given; error matches a part of the message. ${expectation.description}` },
              counts: {
                type: 'object',
                additionalProperties: false,
                properties: Object.fromEntries(['read', 'produced', 'written', 'filtered', 'deadLettered', 'skipped'].map((k) => [k, { type: 'integer', minimum: 0 }])),
                description: "The run's counters (read, written, filtered, deadLettered, skipped, produced).",
              },
              error: { type: 'string', description: 'The run must fail with a message containing this.' },
            },
          },
        },
      },
    },
  },
} as const;

const TEST_FILE = /\.test\.ya?ml$/;

/** Whether a path names a job test file rather than a job. */
export const isJobTestFile = (path: string): boolean => TEST_FILE.test(path);

/** Reads and checks a job test file; every problem is a diagnostic pointing into it. */
export async function loadJobTestFile(file: string): Promise<{ spec?: JobTestFile; diagnostics: Diagnostic[] }> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { diagnostics: [{ severity: 'error', file, line: 0, col: 0, path: '', message: code === 'ENOENT' ? 'no such file' : `cannot read: ${code}` }] };
  }
  const yaml = parseYaml(text, file);
  if (yaml.diagnostics.some((d) => d.severity === 'error')) return { diagnostics: yaml.diagnostics };
  const diagnostics: Diagnostic[] = [...yaml.diagnostics];
  const at = (pointer: string, message: string, hint?: string, key = false): void => {
    const pos = locate(yaml, pointer, { key });
    diagnostics.push({ severity: 'error', file, line: pos.line, col: pos.col, path: displayPath(pointer), message, ...(hint ? { hint } : {}) });
  };

  const validate = compileSchema(jobTestSchema);
  if (!validate(yaml.value)) {
    const seen = new Set<string>();
    for (const error of validate.errors ?? []) {
      if (error.keyword === 'oneOf' || error.keyword === 'if') continue;
      const params = error.params as Record<string, unknown>;
      let pointer = error.instancePath;
      let message = error.message ?? 'is invalid';
      let key = false;
      if (error.keyword === 'additionalProperties') {
        const name = String(params.additionalProperty);
        const known = Object.keys(((error.parentSchema as { properties?: object })?.properties ?? {}) as object);
        const guess = didYouMean(name, known);
        pointer += `/${name}`;
        message = `unknown key '${name}'${guess ? `; did you mean '${guess}'?` : ''}`;
        key = true;
      } else if (error.keyword === 'required') message = `missing required key '${String(params.missingProperty)}'`;
      else if (error.keyword === 'type') message = `must be ${String(params.type)}`;
      if (seen.has(pointer + message)) continue;
      seen.add(pointer + message);
      at(pointer, message, undefined, key);
    }
    return { diagnostics };
  }

  const raw = yaml.value as { job: string; env?: Record<string, unknown>; tests: Array<Record<string, unknown>> };
  const dir = dirname(resolve(file));
  const job = resolve(dir, raw.job);
  if (!existsSync(job)) at('/job', `no such job file: ${raw.job}`, `paths are relative to the test file's folder (${dirname(file)})`);
  const strings = (o: Record<string, unknown> | undefined) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, String(v)]));
  const cases: JobTestCase[] = [];
  const names = new Set<string>();
  for (const [index, t] of raw.tests.entries()) {
    const pointer = `/tests/${index}`;
    const name = String(t.name);
    if (names.has(name)) at(`${pointer}/name`, `two tests are named '${name}'`);
    names.add(name);
    const expect = t.expect as JobTestCase['expect'];
    if (expect.output !== undefined && expect.sinks !== undefined) at(`${pointer}/expect/sinks`, 'give output: (the one sink) or sinks: (by id), not both');
    let input: JobTestCase['input'];
    if (Array.isArray(t.input)) input = { records: t.input as Record<string, unknown>[] };
    else {
      const { file: inputFile, ...options } = t.input as { file: string };
      const path = resolve(dir, inputFile);
      if (!/[*?[{]/.test(inputFile) && !existsSync(path)) at(`${pointer}/input/file`, `no such input file: ${inputFile}`, "paths are relative to the test file's folder");
      input = { file: path, with: options };
    }
    cases.push({ name, pointer, line: locate(yaml, pointer).line, input, env: { ...strings(raw.env), ...strings(t.env as Record<string, unknown>) }, expect });
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return { spec: { file, job, cases }, diagnostics };
}
