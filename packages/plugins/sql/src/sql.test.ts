// Unit tests that need no database: option rules, error classes, value encoding, connection config.
import { checkConfig } from '@sluice/core/testing';
import { TransientError } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { knexConfig } from './connection.js';
import { bindValue, exactNumeric, mysqlUtc, fromCursorValue, jsonText, mysql, postgres, recordValue, sqlite, toCursorValue } from './dialect.js';
import { classify, describeError } from './errors.js';
import { sqlSink } from './sink.js';
import { sqlSource } from './source.js';
import { copyField } from './write-pg.js';

describe('sql sink options', () => {
  it.each([
    [{ connection: 'db', table: 't' }, []],
    [{ connection: 'db', table: 't', mode: 'upsert', key: ['a', 'b'] }, []],
    [{ connection: 'db', table: 't', mode: 'merge' }, ['mode: must be one of insert, upsert, replace']],
    [{ connection: 'db' }, [": missing required key 'table'"]],
    [{ connection: 'db', table: 't', tabel: 'x' }, ["tabel: unknown key 'tabel'"]],
    [{ connection: 'db', table: 't', key: 'id' }, ['key: key is used by mode upsert (or as the primary key with createTable); this sink\'s mode is insert']],
    [{ connection: 'db', table: 't', mode: 'upsert', createTable: true }, ['key: createTable with mode upsert needs key: the primary key of the table it creates']],
    [{ connection: 'db', table: 't', columns: { a: 'x', b: 'x' } }, ["columns.b: fields 'a' and 'b' both go to column 'x'"]],
    [{ connection: 'db', table: 't', mode: 'upsert', key: 'id', columns: ['name'] }, ['key: key column(s) id are not among the columns written']],
  ])('%j → %j', (config, expected) => {
    expect(checkConfig(sqlSink, config).map((p) => `${p.path}: ${p.message}`)).toEqual(expected);
  });
});

describe('sql source options', () => {
  it.each([
    [{ connection: 'db', table: 't' }, []],
    [{ connection: 'db', query: 'select 1 as id', key: 'id' }, []],
    [{ connection: 'db' }, [': set table (with optional columns and where) or query']],
    [{ connection: 'db', table: 't', query: 'select 1 as id', key: 'id' }, ['query: set table or query, not both']],
    [{ connection: 'db', query: 'select 1' }, ['key: a query needs key: the column(s) of its result to page by (unique, not null)']],
    [{ connection: 'db', query: 'select 1 as id', key: 'id', where: 'x > 1' }, ['where: where goes with table; with query, put the condition in the query']],
  ])('%j → %j', (config, expected) => {
    expect(checkConfig(sqlSource, config).map((p) => `${p.path}: ${p.message}`)).toEqual(expected);
  });
});

describe('error classes', () => {
  const err = (fields: Record<string, unknown>, message = 'boom') => Object.assign(new Error(message), fields);
  it.each([
    [err({ code: '40001' }), 'transient'],
    [err({ code: '40P01' }), 'transient'],
    [err({ code: '08006' }), 'transient'],
    [err({ code: '57P01' }), 'transient'],
    [err({ code: '23505' }), 'data'],
    [err({ code: '22001' }), 'data'],
    [err({ code: '22P02' }), 'data'],
    [err({ code: '42P01' }), 'other'],
    [err({ code: 'ER_LOCK_DEADLOCK', errno: 1213 }), 'transient'],
    [err({ code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 }), 'transient'],
    [err({ code: 'ER_DUP_ENTRY', errno: 1062 }), 'data'],
    [err({ code: 'ER_DATA_TOO_LONG', errno: 1406 }), 'data'],
    [err({ code: 'WARN_DATA_TRUNCATED', errno: 1265 }), 'data'],
    [err({ code: 'ER_NO_SUCH_TABLE', errno: 1146 }), 'other'],
    [err({ code: 'PROTOCOL_CONNECTION_LOST' }), 'transient'],
    [err({ code: 'ECONNRESET' }), 'transient'],
    [err({ code: 'SQLITE_BUSY' }), 'transient'],
    [err({ code: 'SQLITE_CONSTRAINT_UNIQUE' }), 'data'],
    [err({}, 'Connection terminated unexpectedly'), 'transient'],
    [new TransientError('x'), 'other'],
  ])('%s → %s', (error, expected) => {
    expect(classify(error)).toBe(expected);
  });

  it("keeps PostgreSQL's detail and drops knex's SQL prefix", () => {
    expect(describeError(err({ detail: 'Key (id)=(5) already exists.' }, 'duplicate key value violates unique constraint "t_pkey"'))).toBe(
      'duplicate key value violates unique constraint "t_pkey" (Key (id)=(5) already exists.)',
    );
    expect(describeError(err({ sql: 'x' }, 'insert into "t" values ($1) - null value in column "a"'))).toBe('null value in column "a"');
  });
});

describe('values', () => {
  it('encodes COPY text fields', () => {
    expect(copyField('text', 'a\tb\nc\\d\re')).toBe('a\\tb\\nc\\\\d\\re');
    expect(copyField('text', null)).toBe('\\N');
    expect(copyField('bool', true)).toBe('t');
    expect(copyField('json', 'just text')).toBe('"just text"');
    expect(copyField('json', { a: 'x\ny' })).toBe('{"a":"x\\\\ny"}');
    expect(copyField('array', ['a', null, 'b"c'])).toBe('{"a",NULL,"b\\\\"c"}');
    expect(copyField('float', Number.NaN)).toBe('NaN');
    expect(copyField('timestamptz', new Date('2024-01-02T03:04:05Z'))).toBe('2024-01-02T03:04:05.000Z');
  });

  it('writes a zoned date-time for MySQL as Date would, except a day its month lacks, which stays as written', () => {
    // What bindValue did before mysqlUtc: parse with Date, print in UTC.
    const viaDate = (s: string) => {
      if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$/i.test(s)) return undefined;
      const d = new Date(s);
      return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace('T', ' ').replace('Z', '');
    };
    let seed = 7;
    const pick = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const two = (n: number) => String(n).padStart(2, '0');
    const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let rolled = 0;
    for (let i = 0; i < 20_000; i++) {
      const year = [1900, 1999, 2000, 2023, 2024, 2100, 0, 9999][pick(8)]!;
      const month = pick(14);
      const day = pick(33);
      const time = `${two(pick(26))}:${two(pick(61))}${pick(4) ? `:${two(pick(61))}${pick(2) ? `.${String(pick(10 ** (1 + pick(8)))).padStart(1 + pick(3), '0')}` : ''}` : ''}`;
      const zone = ['Z', 'z', '+02:00', '-0530', '+05', ''][pick(6)]!;
      const s = `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}${['T', ' ', 't'][pick(3)]}${time}${zone}`;
      const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
      const exists = month >= 1 && month <= 12 && day >= 1 && day <= (month === 2 && leap ? 29 : monthDays[month - 1]!);
      if (exists) expect(mysqlUtc(s), s).toBe(viaDate(s));
      else {
        expect(mysqlUtc(s), s).toBeUndefined();
        if (viaDate(s) !== undefined) rolled++;
      }
    }
    // Date rolls such days over; the generator must have made some, or the test shows nothing.
    expect(rolled).toBeGreaterThan(100);
    expect(bindValue('mysql', 'timestamp', '2023-02-29T10:00:00Z')).toBe('2023-02-29T10:00:00Z');
    expect(bindValue('mysql', 'timestamptz', '2024-02-29T10:00:00.25Z')).toBe('2024-02-29 10:00:00.250');
    expect(bindValue('mysql', 'timestamp', '2024-01-01T24:00:00Z')).toBe('2024-01-02 00:00:00.000');
  });

  it('binds values per dialect', () => {
    expect(bindValue('mysql', 'timestamp', '2024-01-02T05:04:05.5+02:00')).toBe('2024-01-02 03:04:05.500');
    expect(bindValue('mysql', 'bool', true)).toBe(1);
    expect(bindValue('sqlite', 'json', [1, 2])).toBe('[1,2]');
    expect(bindValue('sqlite', 'text', { a: 1 })).toBe('{"a":1}');
    expect(bindValue('postgres', 'text', undefined)).toBeNull();
  });

  it('reads values back as JSON', () => {
    expect(recordValue(new Date('2024-01-02T03:04:05Z'))).toBe('2024-01-02T03:04:05.000Z');
    expect(recordValue(12n)).toBe(12);
    expect(recordValue(2n ** 70n)).toBe(2n ** 70n);
    expect(recordValue(1, 'bool')).toBe(true);
    expect(recordValue('{"a":1}', 'json')).toEqual({ a: 1 });
  });

  it.each([
    ['42', 42],
    ['-9007199254740991', -9007199254740991],
    ['9007199254740993', 9007199254740993n],
    ['123456789012345678901234567890', 123456789012345678901234567890n],
    ['12.50', 12.5],
    ['0.1', 0.1],
    ['0.10000000000000000001', '0.10000000000000000001'],
    ['12345678901234567.5', '12345678901234567.5'],
  ])('keeps the number %s sent as text exactly', (text, value) => {
    expect(exactNumeric(text)).toEqual(value);
  });

  it('writes BigInts inside JSON as their digits, and keeps them in cursors as JSON', () => {
    expect(jsonText({ a: 12345678901234567890n, b: [1n, 'x'] })).toBe('{"a":12345678901234567890,"b":[1,"x"]}');
    expect(fromCursorValue(JSON.parse(JSON.stringify(toCursorValue(2n ** 64n))))).toBe(2n ** 64n);
    expect(toCursorValue(5)).toBe(5);
  });

  it('knows column kinds from type names', () => {
    expect(postgres.kindOf('timestamp(3) with time zone')).toBe('timestamptz');
    expect(postgres.kindOf('integer[]')).toBe('array');
    expect(mysql.kindOf('tinyint(1)')).toBe('bool');
    expect(mysql.kindOf('bigint(20)')).toBe('int');
    expect(sqlite.kindOf('JSON')).toBe('json');
  });
});

describe('connection config', () => {
  it('sizes the pool to the steps that use it, plus one for the checkpoint store', () => {
    const config = knexConfig({ client: 'pg', url: 'postgres://u:p@h:5432/d' }, 9, '/jobs');
    expect((config.pool as { max: number }).max).toBe(10);
    expect(config.connection).toMatchObject({ connectionString: 'postgres://u:p@h:5432/d' });
  });

  it('parses a MySQL URL and resolves a SQLite file from the job folder', () => {
    expect(knexConfig({ client: 'mysql2', url: 'mysql://root:pw%40x@db:3307/app' }, 1, '/jobs').connection).toMatchObject({
      host: 'db',
      port: 3307,
      user: 'root',
      password: 'pw@x',
      database: 'app',
    });
    expect(knexConfig({ client: 'better-sqlite3', url: 'out/demo.db' }, 1, '/jobs').connection).toEqual({ filename: '/jobs/out/demo.db' });
    expect(knexConfig({ client: 'better-sqlite3', url: 'sqlite:///abs/x.db' }, 1, '/jobs').connection).toEqual({ filename: '/abs/x.db' });
  });

  it('refuses an unknown client', () => {
    expect(() => knexConfig({ client: 'oracle' }, 1, '/')).toThrow('client must be one of pg, mysql2, better-sqlite3 (got "oracle")');
  });
});
