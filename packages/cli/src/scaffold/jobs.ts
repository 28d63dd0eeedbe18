/**
 * Job templates for `sluice new job NAME --from TEMPLATE`: the common jobs, each valid as written
 * (`sluice validate` passes; a missing `${env:…}` is only a warning), with comments saying what to
 * change.
 */

export interface JobTemplate {
  readonly summary: string;
  readonly text: (name: string) => string;
}

const header = (name: string, description: string, tryIt: string) => `# yaml-language-server: $schema=../sluice.schema.json
# ${description}
# ${tryIt}
version: 1
name: ${name}
description: ${description}
`;

export const JOB_TEMPLATES: Readonly<Record<string, JobTemplate>> = {
  'csv-to-sqlite': {
    summary: 'CSV files → a SQLite database file, upserted by key (no server needed)',
    text: (name) => `${header(name, 'CSV → SQLite, upserted by id', `Put the input in data/${name}.csv, then: npx sluice run jobs/${name}.yaml`)}
connections:
  local:
    client: better-sqlite3
    url: out/${name}.db                   # relative to this file; created when missing

checkpoint:
  store: sql                            # rows and progress commit in one transaction: exactly once
  connection: local

source:
  use: file
  with:
    path: data/${name}.csv                # a path or a glob (data/*.csv), relative to this file
    csv: { cast: true }                 # numbers and booleans as such, not text
  onError: deadLetter

steps:
  - id: clean
    use: map
    with:
      set:
        email: String(record.email ?? '').trim().toLowerCase()

sink:
  use: sql
  with:
    connection: local
    table: ${name.replace(/-/g, '_')}
    mode: upsert
    key: id
    createTable: true                   # from the first batch's fields when the table is missing
  onError: deadLetter
`,
  },
  'csv-to-postgres': {
    summary: 'CSV files → a PostgreSQL table, upserted by key (COPY for inserts)',
    text: (name) => `${header(name, 'CSV → PostgreSQL, upserted by id', `DATABASE_URL=postgres://… npx sluice run jobs/${name}.yaml (or put DATABASE_URL in jobs/.env)`)}
connections:
  warehouse:
    client: pg                          # mysql2 for MySQL/MariaDB
    url: \${env:DATABASE_URL}           # a secret: never printed or logged

checkpoint:
  store: sql                            # rows and progress commit in one transaction: exactly once
  connection: warehouse

batch: { size: 1000 }

source:
  use: file
  with:
    path: data/${name}/*.csv              # read in name order; a resumed run skips what it read
    csv: { cast: true }
  onError: deadLetter

steps:
  - id: check
    use: validate
    with:
      schema:
        type: object
        required: [id]
        properties: { id: { type: integer } }
    onError: deadLetter

sink:
  use: sql
  with:
    connection: warehouse
    table: ${name.replace(/-/g, '_')}
    mode: upsert                        # insert | upsert | replace
    key: id
  onError: deadLetter
`,
  },
  'api-to-db': {
    summary: 'a paginated HTTP API → a database table, upserted by key',
    text: (name) => `${header(name, 'A paginated API → PostgreSQL, upserted by id', `API_TOKEN=… DATABASE_URL=postgres://… npx sluice run jobs/${name}.yaml`)}
connections:
  warehouse:
    client: pg                          # mysql2, or better-sqlite3 with url: out/${name}.db
    url: \${env:DATABASE_URL}

source:
  use: http
  with:
    url: https://api.example.com/v1/items
    auth: { bearer: "\${env:API_TOKEN}" }
    items: data                         # where the array of records is in each response
    pagination: page                    # none | page | offset | cursor | link
    pageSize: 100
    total: meta.total                   # for the progress total and the ETA (optional)
  rateLimit: 10/s
  retry: { attempts: 5 }

steps:
  - use: map
    with:
      set:
        fetched_at: new Date().toISOString()

sink:
  use: sql
  with:
    connection: warehouse
    table: ${name.replace(/-/g, '_')}
    mode: upsert
    key: id
  onError: deadLetter
`,
  },
  'table-to-email': {
    summary: 'rows of a database table → one email each, at most once per key',
    text: (name) => `${header(name, 'Rows of a table → one email each, at most once per key', `npx sluice run jobs/${name}.yaml --dry-run renders every message and sends nothing`)}
connections:
  app:
    client: pg
    url: \${env:DATABASE_URL}

batch: { size: 100 }                    # a batch is one sink write: keep it small enough to send within timeout

source:
  use: sql
  with:
    connection: app
    table: customers
    columns: [id, name, email]
    where: "welcomed_at is null"
    key: id                             # keyset pagination; a resumed run continues after the last id

sink:
  use: email
  with:
    transport: { type: file, dir: out/mail }   # writes .eml files; for real mail: smtp: \${env:SMTP_URL} (smtp://user:password@host:587)
    from: Acme <hello@acme.example>
    to: "{{ record.name }} <{{ record.email }}>"
    subject: Welcome, {{ record.name }}!
    text: |
      Hi {{ record.name }},

      your account is ready.
    key: record.id                      # each row is mailed at most once, across crashes and reruns
  concurrency: 4
  rateLimit: 20/s
  onError: deadLetter
`,
  },
  'files-to-files': {
    summary: 'files → transformed files (JSON Lines, CSV, JSON, .gz in and out)',
    text: (name) => `${header(name, 'Files → filtered and reshaped → JSON Lines', `Put the input in data/${name}/, then: npx sluice run jobs/${name}.yaml`)}
source:
  use: file
  with:
    path: data/${name}/*.jsonl            # .csv, .json and .gz work too; matches are read in name order
  onError: deadLetter

steps:
  - use: filter
    with: { where: record.status != 'deleted' }
  - use: map
    with:
      set:
        name: String(record.name ?? '').trim()
      remove: [internal_notes]
  - use: dedupe
    with: { key: record.id }

sink:
  use: file
  with: { path: out/${name}.jsonl.gz }    # gzip from the extension; exactly once across crashes
`,
  },
};
