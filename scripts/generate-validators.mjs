// Writes the validators ajv would otherwise compile at every start-up, as code
// (packages/core/src/job/standalone.ts): job-validator.generated.ts (the job schema) and
// meta-validator.generated.ts (ajv's draft-07 meta-schema). Run after changing
// packages/core/src/job/schema.ts or upgrading ajv (job-validator.test.ts fails until then):
//   npx tsc -b && node scripts/generate-validators.mjs && npx tsc -b
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jobValidatorSource, metaValidatorSource } from '../packages/core/dist/job/standalone.js';

for (const [name, source] of [['job-validator', jobValidatorSource], ['meta-validator', metaValidatorSource]]) {
  const out = fileURLToPath(new URL(`../packages/core/src/job/${name}.generated.ts`, import.meta.url));
  writeFileSync(out, source());
  console.log(`wrote ${out}`);
}
