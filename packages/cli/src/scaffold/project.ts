/**
 * The files `sluice init` writes: a project a team can commit, whose example job runs at once on
 * files and SQLite (no server) and whose job test passes.
 */

/** The scripts `sluice init` adds to package.json (an existing script of the same name is kept). */
export const PROJECT_SCRIPTS: Readonly<Record<string, string>> = {
  'jobs:run': 'sluice run',
  'jobs:validate': "sluice validate 'jobs/**/*.yaml'",
  'jobs:test': "sluice test 'jobs/**/*.test.yaml'",
  'jobs:schema': 'sluice schema --out sluice.schema.json',
};

/** Lines `sluice init` makes sure `.gitignore` has. */
export const GITIGNORE_LINES = ['node_modules/', '.sluice/', 'jobs/out/', '.env', '!.env.example'];

/** A new package.json, for a folder that has none. */
export function newPackageJson(name: string, cliRange: string): Record<string, unknown> {
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: { ...PROJECT_SCRIPTS, test: 'npm run jobs:validate && npm run jobs:test' },
    devDependencies: { '@sluice/cli': cliRange },
  };
}

/** Relative path → contents of every other file `sluice init` writes. */
export function projectFiles(): Record<string, string> {
  return {
    'jobs/hello.yaml': HELLO_JOB,
    'jobs/hello.test.yaml': HELLO_TEST,
    'jobs/data/customers.csv': CUSTOMERS_CSV,
    'jobs/.env.example': ENV_EXAMPLE,
    '.vscode/settings.json': `${JSON.stringify({ 'yaml.schemas': { './sluice.schema.json': ['jobs/**/*.yaml', '!jobs/**/*.test.yaml'] } }, null, 2)}\n`,
    '.github/workflows/sluice.yml': WORKFLOW,
  };
}

const HELLO_JOB = `# yaml-language-server: $schema=../sluice.schema.json
# Customers (CSV) → cleaned and checked → a SQLite database file, upserted by id.
# Runs as it is, with no server: npx sluice run jobs/hello.yaml
# Its test: npx sluice test jobs/hello.test.yaml
version: 1
name: hello
description: Customers (CSV) → cleaned and checked → SQLite, upserted by id

connections:
  local:
    client: better-sqlite3
    url: out/hello.db                 # relative to this file; created when missing

source:
  use: file
  with:
    path: data/customers.csv          # relative paths resolve from this file's folder
    csv: { cast: true }
  onError: deadLetter                 # a malformed row goes to the dead-letter file with its line

steps:
  - id: clean
    use: map
    with:
      set:                            # JavaScript expressions over \`record\`
        name: String(record.name).trim()
        email: String(record.email).trim().toLowerCase()
        country: String(record.country).toUpperCase()
  - id: check
    use: validate                     # JSON Schema per record
    with:
      schema:
        type: object
        required: [id, email]
        properties:
          id: { type: integer }
          email: { type: string, format: email }
    onError: deadLetter               # fail (default) | skip | deadLetter

sink:
  use: sql
  with:
    connection: local
    table: customers
    mode: upsert                      # a rerun updates rows instead of duplicating them
    key: id
    createTable: true                 # made from the first batch when missing

deadLetter:
  use: file
  with: { path: out/hello.rejects.jsonl }
`;

const HELLO_TEST = `# Job tests for hello.yaml: npx sluice test (every *.test.yaml) or npx sluice test jobs/hello.test.yaml.
# The source is replaced by \`input\`; the sinks and the dead-letter file are captured in memory,
# so no database is touched.
job: hello.yaml

tests:
  - name: cleans customers and dead-letters a bad address
    input:
      - { id: 1, name: " Ada Lovelace ", email: " Ada@Example.com ", country: gb }
      - { id: 2, name: Alan Turing, email: not-an-email, country: gb }
    expect:
      output:
        - { id: 1, name: Ada Lovelace, email: ada@example.com, country: GB }
      deadLetters:
        - { step: check, error: 'email: must match format "email"', record: { id: 2 } }
      counts: { read: 2, written: 1, deadLettered: 1 }

  - name: the sample file
    input: { file: data/customers.csv, csv: { cast: true } }
    expect:
      output: { count: 5, contains: [{ id: 3, name: Grace Hopper, country: US }] }
      deadLetters: { count: 1 }
`;

const CUSTOMERS_CSV = `id,name,email,country
1,Ada Lovelace,ada@example.com,gb
2,Alan Turing,alan@example.com,gb
3,Grace Hopper, Grace@Example.com ,us
4,Edsger Dijkstra,edsger@example.com,nl
5,Barbara Liskov,not-an-address,us
6,Margaret Hamilton,margaret@example.com,us
`;

const ENV_EXAMPLE = `# Values for the jobs' \${env:NAME} references. Copy this file to jobs/.env (which git ignores)
# and fill it in: sluice run, validate and worker read the .env beside the job file, or the file
# given with --env-file FILE. Variables already set in the environment win over the file.
# Like every \${env:…} value, these are secrets: sluice never prints or logs them.
#
# DATABASE_URL=postgres://user:password@localhost:5432/app
# API_TOKEN=
# SMTP_URL=smtp://user:password@smtp.example.com:587
`;

const WORKFLOW = `name: sluice jobs
on:
  push:
    branches: [main]
  pull_request:

jobs:
  check:
    runs-on: ubuntu-latest
    timeout-minutes: 10
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm
      - run: npm ci
      - name: Validate job files
        run: npx sluice validate 'jobs/**/*.yaml' --format github
      - name: Job tests
        run: npx sluice test 'jobs/**/*.test.yaml'
`;
