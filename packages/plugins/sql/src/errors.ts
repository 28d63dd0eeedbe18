/** How a database error steers the sink: retry the batch, reject the record, or neither. */
export type ErrorClass = 'transient' | 'data' | 'other';

interface DbError {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  detail?: unknown;
  name?: unknown;
  fatal?: unknown;
}

const NODE_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST', 'ECONNABORTED']);

/** PostgreSQL SQLSTATEs worth retrying: serialization, deadlock, lock, connection, resources, shutdown. */
function pgTransient(code: string): boolean {
  return (
    code === '40001' ||
    code === '40P01' ||
    code === '55P03' ||
    code.startsWith('08') ||
    code.startsWith('53') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '57014'
  );
}

/** MySQL/MariaDB error numbers worth retrying: deadlock, lock wait, gone away, lost, too many connections, killed. */
const MYSQL_TRANSIENT = new Set([1213, 1205, 2006, 2013, 1040, 1927, 1053, 1614, 3572]);
/** MySQL/MariaDB error numbers that mean the record's data is refused. */
const MYSQL_DATA = new Set([
  1062, 1048, 1406, 1264, 1366, 1292, 1452, 1451, 1216, 1217, 3819, 4025, 1265, 3140, 1364, 1411, 1367, 1690, 1366, 4078, 1918, 3156,
]);

/** SQLite's "database is locked": another connection held the lock past the busy timeout. */
export function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** Whether `error` is transient, a refusal of the data, or something else (schema, permissions, bugs). */
export function classify(error: unknown): ErrorClass {
  const e = (error ?? {}) as DbError;
  const code = typeof e.code === 'string' ? e.code : '';
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  if (NODE_NETWORK.has(code)) return 'transient';
  if (e.name === 'KnexTimeoutError') return 'transient';
  const message = typeof e.message === 'string' ? e.message : '';
  if (/Connection terminated|connection ended|Client has encountered a connection error|Cannot enqueue|closed state/i.test(message)) return 'transient';
  // SQLite (better-sqlite3): codes are names.
  if (code.startsWith('SQLITE_')) {
    if (isSqliteBusy(error)) return 'transient';
    if (code.startsWith('SQLITE_CONSTRAINT') || code === 'SQLITE_MISMATCH' || code === 'SQLITE_TOOBIG') return 'data';
    return 'other';
  }
  // MySQL / MariaDB (mysql2): errno plus a symbolic code, ER_… or WARN_… (1265 WARN_DATA_TRUNCATED:
  // a strict-mode error for text that is not a number, e.g. '1x' into a DECIMAL).
  if (errno !== undefined && (code.startsWith('ER_') || code.startsWith('WARN_'))) {
    if (MYSQL_TRANSIENT.has(errno)) return 'transient';
    if (MYSQL_DATA.has(errno)) return 'data';
    return 'other';
  }
  if (errno !== undefined && MYSQL_TRANSIENT.has(errno)) return 'transient';
  // PostgreSQL (pg): five-character SQLSTATE.
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (pgTransient(code)) return 'transient';
    if (code.startsWith('22') || code.startsWith('23')) return 'data';
    return 'other';
  }
  // better-sqlite3 refuses values it cannot bind (a record's field of the wrong kind).
  if (error instanceof TypeError && /bind|SQLite3 can only/i.test(message)) return 'data';
  if (e.fatal === true) return 'transient';
  return 'other';
}

/** The database's message, with PostgreSQL's detail (`Key (id)=(5) already exists.`) when it has one. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const e = error as Error & DbError;
  let message = e.message || e.name;
  // knex prefixes the whole SQL text to driver errors; the database's own words are after the last ' - '.
  if (typeof (e as { sql?: unknown }).sql === 'string' || / - /.test(message)) {
    const cut = message.lastIndexOf(' - ');
    if (cut >= 0 && /^(select|insert|update|delete|with|create|alter|copy|pragma)\b/i.test(message)) message = message.slice(cut + 3);
  }
  if (typeof e.detail === 'string' && e.detail && !message.includes(e.detail)) message = `${message} (${e.detail})`;
  // PostgreSQL names the column of a refused COPY value only in `where`: `COPY t, line 3, column amount: "x"`.
  const where = (e as { where?: unknown }).where;
  const column = typeof where === 'string' ? /^COPY [^,]+, line \d+, column ([^:]+):/.exec(where)?.[1] : undefined;
  if (column && !message.includes(`column ${column}`) && !message.includes(`column "${column}"`)) message = `${message} (column ${column})`;
  if (error instanceof AggregateError && error.errors.length) return describeError(error.errors[0]);
  return message;
}
