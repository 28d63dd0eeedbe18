// (a) Hand-written streaming baseline — the practical limit for Node on this transform:
// read stream, split lines, JSON.parse, transform, JSON.stringify, buffered write with backpressure.
// Usage: node bench/baseline.mjs IN OUT
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { transform } from './transform.mjs';

const [input, output] = process.argv.slice(2);
const out = createWriteStream(output);
const FLUSH_AT = 1 << 20;

let carry = '';
let buffer = '';
let written = 0;

for await (const chunk of createReadStream(input, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
  const text = carry + chunk;
  let start = 0;
  let nl = text.indexOf('\n');
  while (nl !== -1) {
    if (nl > start) {
      const record = transform(JSON.parse(text.slice(start, nl)));
      if (record !== null) {
        buffer += JSON.stringify(record) + '\n';
        written++;
      }
    }
    start = nl + 1;
    nl = text.indexOf('\n', start);
  }
  carry = text.slice(start);
  if (buffer.length >= FLUSH_AT) {
    if (!out.write(buffer)) await once(out, 'drain');
    buffer = '';
  }
}
if (carry.length > 0) {
  const record = transform(JSON.parse(carry));
  if (record !== null) {
    buffer += JSON.stringify(record) + '\n';
    written++;
  }
}
out.end(buffer);
await once(out, 'finish');
process.stderr.write(`baseline: written ${written}\n`);
