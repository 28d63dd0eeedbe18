// Preloaded into a `sluice run` child (NODE_OPTIONS=--require) by test/sql-crash-sqlite-marker:
// SIGKILLs the process right after the SQLite commit named by SLUICE_TEST_KILL_AFTER_COMMIT,
// before any other line of JavaScript runs. JSON: { "table": "dst", "batch": K } dies after the
// commit holding the rows of the K-th transaction (from 0) that inserted into that table;
// { "marker": K } dies after the commit that moved a sink marker to seq K. The sql sink commits a
// batch's rows and its marker together, so both name the same commit; a build that wrote the
// marker in a transaction of its own would die between the two. Nothing else is changed.
'use strict';
const { createRequire } = require('node:module');
const { join } = require('node:path');

const spec = JSON.parse(process.env.SLUICE_TEST_KILL_AFTER_COMMIT || 'null');
if (spec) {
  const Database = createRequire(join(__dirname, '../../packages/plugins/sql/package.json'))('better-sqlite3');
  const probe = new Database(':memory:');
  const Statement = Object.getPrototypeOf(probe.prepare('select 1'));
  probe.close();
  const run = Statement.run;
  const inserts = new RegExp(`^\\s*insert\\s+into\\s+["\`]?${spec.table ?? '\u0000'}["\`]?[\\s(]`, 'i');
  let rowCommits = 0;
  let pendingRows = false;
  let pendingMarker = false;
  Statement.run = function (...args) {
    const result = run.apply(this, args);
    const sql = this.source;
    if (/^\s*rollback\b/i.test(sql)) pendingRows = pendingMarker = false;
    if (inserts.test(sql)) pendingRows = true;
    if (spec.marker !== undefined && /sluice_sink_markers/i.test(sql) && /^\s*(insert|update)/i.test(sql) && args.flat().includes(spec.marker)) pendingMarker = true;
    // Committed: a COMMIT, or a statement run outside any transaction (autocommit).
    if ((pendingRows || pendingMarker) && !this.database.inTransaction) {
      const die = (pendingRows && spec.batch !== undefined && rowCommits++ === spec.batch) || pendingMarker;
      pendingRows = false;
      pendingMarker = false;
      if (die) {
        process.kill(process.pid, 'SIGKILL');
        for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
      }
    }
    return result;
  };
}
