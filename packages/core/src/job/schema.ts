/**
 * JSON Schema of a job file's structure. Each plugin's `with`, the `checkpoint:` block and each
 * connection are checked separately against the schema of the plugin, store or connection kind
 * they name (extension-points.ts); `sluice schema` merges them all for editors.
 * Custom keywords (registered with ajv in ajv.ts): `duration`, `rate`, `failureBudget`,
 * `expression`, `template`.
 */

const duration = (description: string, dflt?: string) => ({
  type: ['string', 'number'],
  duration: true,
  description: `${description} A duration: 250ms, 30s, 5m, 1h, or a number of milliseconds.`,
  ...(dflt !== undefined ? { default: dflt } : {}),
  examples: ['500ms', '30s'],
});

export const retrySchema = {
  type: 'object',
  description: 'Retry policy: exponential backoff with full jitter, per record in transforms, per batch in sinks.',
  additionalProperties: false,
  properties: {
    attempts: { type: 'integer', minimum: 1, maximum: 100, default: 3, description: 'Attempts in all, the first included.' },
    initialDelay: duration('Delay before the first retry.', '200ms'),
    maxDelay: duration('Upper bound of any delay, Retry-After included.', '30s'),
    multiplier: { type: 'number', minimum: 1, default: 2, description: 'Each delay is the previous one times this.' },
    jitter: { type: 'boolean', default: true, description: 'Full jitter: wait a random time between 0 and the delay.' },
    on: {
      type: 'array',
      items: { type: ['string', 'integer'] },
      description: 'What to retry, for plugins that classify errors (http: 429, 5xx, timeout, network).',
      examples: [[429, '5xx', 'timeout', 'network']],
    },
  },
} as const;

export const stepSettingsProperties = {
  concurrency: { type: 'integer', minimum: 1, maximum: 10000, description: 'Records in flight inside this step.', default: 8 },
  retry: retrySchema,
  timeout: duration('Time limit of one attempt (a record in a transform, a batch in a sink).', '30s'),
  rateLimit: {
    type: ['string', 'number'],
    rate: true,
    description: 'At most this many calls: 100/s, 6000/min. Shared by the step\'s concurrency.',
    examples: ['100/s', '6000/min'],
  },
  onError: {
    enum: ['fail', 'skip', 'deadLetter'],
    default: 'fail',
    description: 'What happens to a record that still fails after its retries.',
  },
} as const;

const stepSchema = (kind: string) => ({
  type: 'object',
  description: `A ${kind} step.`,
  additionalProperties: false,
  required: ['use'],
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', description: 'Names the step in progress, errors and dead letters.' },
    use: { type: 'string', minLength: 1, description: `A ${kind} plugin's name, or a path to a module that exports one.` },
    with: { type: 'object', description: "The plugin's options (see `sluice plugins`)." },
    when: { type: 'string', expression: true, description: 'Only records for which this expression is true go through the step; others pass by.' },
    ...stepSettingsProperties,
  },
});

export const jobSchema = {
  $id: 'https://sluice.dev/schema/job.json',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'name', 'source'],
  properties: {
    $schema: { type: 'string' },
    version: { const: 1, description: 'Job file format version.' },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 100, description: 'Names the job and its checkpoint: lowercase letters, digits and dashes.' },
    description: { type: 'string' },
    plugins: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: "Extra plugins: npm package names or paths, resolved from the job file's folder.",
    },
    connections: {
      type: 'object',
      description: 'Named connections, shared by the steps that name them.',
      additionalProperties: {
        type: 'object',
        properties: {
          client: { type: 'string', minLength: 1, description: 'The kind of connection; plugin packages add kinds (see `sluice schema`).' },
          url: { type: 'string' },
        },
      },
    },
    batch: {
      type: 'object',
      additionalProperties: false,
      properties: {
        size: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1000, description: 'Records per source page and per batch. Unset: pages of 1,000; into sinks that commit per batch (sql) pages merge into growing batches of up to 5,000 records (~2 MiB).' },
        inFlight: { type: 'integer', minimum: 1, maximum: 1000, default: 4, description: 'Batches in the pipeline at once.' },
      },
    },
    defaults: {
      type: 'object',
      additionalProperties: false,
      description: 'Step settings every step inherits unless it sets its own.',
      properties: stepSettingsProperties,
    },
    checkpoint: {
      type: 'object',
      description: "Where checkpoints live; the store's other options are checked by the store's own schema.",
      properties: {
        store: { type: 'string', minLength: 1, default: 'file', description: 'Where checkpoints live: file (the default), none, or a store a plugin package adds.' },
      },
    },
    source: stepSchema('source'),
    steps: { type: 'array', items: stepSchema('transform'), description: 'Transforms, in order.' },
    sink: stepSchema('sink'),
    sinks: { type: 'array', minItems: 1, items: stepSchema('sink'), description: 'Several sinks (fan-out): every record goes to each.' },
    deadLetter: {
      type: 'object',
      additionalProperties: false,
      required: ['use'],
      description: 'Where failed records go; default: file .sluice/dead-letter/<name>.jsonl.',
      properties: {
        use: { type: 'string', minLength: 1 },
        with: { type: 'object' },
      },
    },
    errors: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxFailed: {
          type: ['integer', 'string'],
          failureBudget: true,
          description: 'Abort when more records than this (a count, or "1%" of those read) have failed.',
          examples: [100, '1%'],
        },
      },
    },
  },
} as const;
