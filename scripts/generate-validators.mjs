// Writes the validators ajv would otherwise compile at every start-up, as code
// (packages/core/src/job/standalone.ts): job-validator.generated.ts (the job schema),
// meta-validator.generated.ts (ajv's draft-07 meta-schema) and the sluice command's
// validators/*.generated.ts (the built-in packages' option schemas: validator-sources.mjs). Run
// after changing packages/core/src/job/schema.ts, a built-in plugin's, store's or connection
// kind's schema, or upgrading ajv (job-validator.test.ts and precompiled-validators.test.ts fail until then):
//   npx tsc -b && node scripts/generate-validators.mjs && npx tsc -b
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jobValidatorSource, metaValidatorSource } from '../packages/core/dist/job/standalone.js';
import { validatorSources } from './validator-sources.mjs';

for (const [name, source] of [['job-validator', jobValidatorSource], ['meta-validator', metaValidatorSource]]) {
  const out = fileURLToPath(new URL(`../packages/core/src/job/${name}.generated.ts`, import.meta.url));
  writeFileSync(out, source());
  console.log(`wrote ${out}`);
}

for (const [out, text] of await validatorSources()) {
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}
