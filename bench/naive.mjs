// (b) The naive pattern many teams write: load every record into an array, then process batches of
// 100 with Promise.all over p-limit(10), writing each batch's results as it completes.
// Usage: node bench/naive.mjs IN OUT
import { readFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { transform } from './transform.mjs';

// p-limit is a dependency of @sluice/core; the benchmark adds no package of its own.
const require = createRequire(new URL('../packages/core/package.json', import.meta.url));
const { default: pLimit } = await import(pathToFileURL(require.resolve('p-limit')).href);

const [input, output] = process.argv.slice(2);
const limit = pLimit(10);

// Everything in memory first.
const records = (await readFile(input, 'utf8'))
  .split('\n')
  .filter((line) => line.length > 0)
  .map((line) => JSON.parse(line));

const out = createWriteStream(output);
let written = 0;
for (let i = 0; i < records.length; i += 100) {
  const batch = records.slice(i, i + 100);
  const results = await Promise.all(batch.map((record) => limit(async () => transform(record))));
  let text = '';
  for (const record of results) {
    if (record === null) continue;
    text += JSON.stringify(record) + '\n';
    written++;
  }
  if (text && !out.write(text)) await once(out, 'drain');
}
out.end();
await once(out, 'finish');
process.stderr.write(`naive: written ${written}\n`);
