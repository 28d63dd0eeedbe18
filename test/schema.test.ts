import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { editorSchema } from '@sluice/core/internal';
import { builtInRegistry } from '../packages/cli/src/builtins.js';
import { ROOT } from './support/cli.js';

const generated = editorSchema(builtInRegistry());

describe('sluice.schema.json (for editors)', () => {
  it('is committed and matches what `sluice schema` generates (run `pnpm schema` after changing a plugin schema)', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'sluice.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(generated)));
  });

  it('compiles with ajv, accepts every example job and rejects a wrong plugin option', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(generated);
    const jobs = readdirSync(join(ROOT, 'jobs')).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'));
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    for (const file of jobs) {
      const job = parse(readFileSync(join(ROOT, 'jobs', file), 'utf8'));
      expect(validate(job), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const bad = parse(readFileSync(join(ROOT, 'jobs/hello.yaml'), 'utf8'));
    bad.steps[1].with = { wher: 'record.a > 1' };
    expect(validate(bad)).toBe(false);
    bad.steps[1].with = { where: 'record.a > 1' };
    bad.sink.with = { path: 'x.jsonl', format: 'xml' };
    expect(validate(bad)).toBe(false);
  });
});
