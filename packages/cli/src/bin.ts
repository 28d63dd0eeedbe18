#!/usr/bin/env node
// No node flags on this line, on purpose. Smaller V8 heaps (`--max-semi-space-size=4
// --heap-growing-percent=50`, which V8 reads only at start) kept a million-row load under 128 MB
// of peak RSS, but on a quiet machine they cost 1.20× (CSV → PostgreSQL), 1.21× (CSV → JSON Lines)
// and 1.43× (JSON Lines map/filter) the CPU of no flags, and more garbage collections made
// `--metrics`' GC observer cost more: throughput first (bench/results/node-flags-quiet.md).
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
