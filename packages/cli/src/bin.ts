#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=50
// Node's flags are on the shebang because V8 reads them at start only: a smaller young generation
// (4 MB semi-spaces, not 16) and an old generation that grows 1.5× its live size before the next
// full collection (not ~3.5×) keep the peak RSS of a million-row load under 128 MB, for ~20 % more
// CPU. V8 sizes the young generation at start: set from inside the process (v8.setFlagsFromString)
// the semi-space flag does nothing. npm's bin link and pnpm's shim both pass them on;
// `node path/to/bin.js` does not (docs/benchmarks.md). Measured: bench/node-flags.mjs.
import { main } from './main.js';

// `sluice plugins | head`: a closed pipe is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Only a bug in sluice gets here: user mistakes are reported by the commands themselves.
    process.stderr.write(`sluice: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
