import {
  defineSink,
  PermanentError,
  type Ledger,
  type PluginContext,
  type RuleViolation,
  type SinkInstance,
} from '@sluice/core';
import { parseAddressList, shown } from './address.js';
import { MessageBuilder } from './message.js';
import { normaliseEmailConfig, type EmailOptions, type EmailSinkConfig } from './options.js';
import { discardTransport, fileTransport, safeUrl, smtpTransport, type MailTransport } from './transport.js';
import { EmailWriter } from './writer.js';

const addressTemplate = (description: string, examples: string[]) =>
  ({ type: 'string', template: true, description, examples }) as const;

/** JSON Schema of the email sink's `with`. */
export const emailSinkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'subject'],
  properties: {
    smtp: {
      type: 'string',
      minLength: 1,
      description:
        'SMTP server URL. smtp://host:587 upgrades to TLS with STARTTLS when the server offers it (set requireTLS to insist); ' +
        'smtps://host:465 speaks TLS from the start. User and password may be in the URL; take it from the environment ' +
        '(${env:SMTP_URL}) so it is a secret, never shown in logs or errors. Required unless transport.type is file.',
      examples: ['${env:SMTP_URL}', 'smtp://localhost:1025', 'smtps://smtp.example.com:465'],
    },
    auth: {
      type: 'object',
      description: 'SMTP credentials, when they are not in the URL. Take them from ${env:…} or ${file:…} so they stay secret.',
      additionalProperties: false,
      required: ['user', 'pass'],
      properties: {
        user: { type: 'string', minLength: 1, description: 'SMTP user name.', examples: ['${env:SMTP_USER}'] },
        pass: { type: 'string', description: 'SMTP password.', examples: ['${env:SMTP_PASSWORD}'] },
      },
      examples: [{ user: '${env:SMTP_USER}', pass: '${env:SMTP_PASSWORD}' }],
    },
    requireTLS: {
      type: 'boolean',
      default: false,
      description: 'With smtp://: refuse to send unless the server offers STARTTLS (otherwise TLS is used when offered).',
      examples: [true],
    },
    tls: {
      type: 'object',
      description: 'TLS settings of the SMTP connection.',
      additionalProperties: false,
      default: {},
      properties: {
        rejectUnauthorized: {
          type: 'boolean',
          default: true,
          description: "Refuse a server certificate that does not verify. Set false only for a test server's self-signed certificate.",
          examples: [false],
        },
        servername: { type: 'string', description: 'The host name to verify the certificate against, when it differs from the URL host.', examples: ['smtp.example.com'] },
      },
      examples: [{ rejectUnauthorized: false }],
    },
    transport: {
      type: 'object',
      description:
        'Where messages go: smtp (the smtp server) or file (each message written as <dir>/<hash of its Message-ID>.eml instead of sent — ' +
        'for demos and for checking the rendered mails).',
      additionalProperties: false,
      default: { type: 'smtp' },
      properties: {
        type: { type: 'string', enum: ['smtp', 'file'], default: 'smtp', description: 'smtp or file.', examples: ['file'] },
        dir: { type: 'string', minLength: 1, description: 'type file: the folder for the .eml files, relative to the job file.', examples: ['out/mail'] },
      },
      examples: [{ type: 'file', dir: 'out/mail' }],
    },
    from: addressTemplate('Sender: an address or `Name <address>`; a template over the record.', ['Acme <hello@acme.example>', '{{ record.owner }}']),
    to: addressTemplate(
      'Recipients: an address, `Name <address>`, or a comma-separated list; a template over the record (an array value becomes a list). ' +
        'A record whose `to` is not an address fails on its own (its step onError), and nothing is sent for it.',
      ['{{ record.email }}', '{{ record.name }} <{{ record.email }}>'],
    ),
    cc: addressTemplate('Copy recipients, like `to`; left out when it renders empty.', ['{{ record.manager }}']),
    bcc: addressTemplate('Blind copy recipients, like `to`; left out when it renders empty.', ['audit@acme.example']),
    replyTo: addressTemplate('Reply-To address, like `to`; left out when it renders empty.', ['support@acme.example']),
    subject: { type: 'string', template: true, description: 'Subject line; a template over the record.', examples: ['Welcome, {{ record.name }}!'] },
    text: { type: 'string', template: true, description: 'Plain-text body; a template over the record.', examples: ['Hi {{ record.name }},\nyour account is ready.'] },
    textFile: {
      type: 'string',
      minLength: 1,
      description: 'Plain-text body from a template file, relative to the job file (instead of text). Read and checked when the job starts.',
      examples: ['templates/welcome.txt'],
    },
    html: {
      type: 'string',
      template: true,
      description: 'HTML body; a template over the record. Values are HTML-escaped unless escapeHtml is false.',
      examples: ['<p>Hi {{ record.name }}</p>'],
    },
    htmlFile: {
      type: 'string',
      minLength: 1,
      description: 'HTML body from a template file, relative to the job file (instead of html). Read and checked when the job starts.',
      examples: ['templates/welcome.html'],
    },
    headers: {
      type: 'object',
      description: 'Extra headers, name to template. Message-ID, From, To, Cc, Bcc, Reply-To, Subject and the MIME headers are set by the sink.',
      default: {},
      additionalProperties: { type: 'string', template: true, description: 'The header value; a template over the record.', examples: ['welcome-{{ record.plan }}'] },
      examples: [{ 'X-Campaign': 'welcome-{{ record.plan }}', 'List-Unsubscribe': '<https://acme.example/unsubscribe/{{ record.id }}>' }],
    },
    attachments: {
      type: 'string',
      expression: true,
      description:
        'Files to attach: an expression giving a path, a list of paths, or a list of { path, filename, contentType }; null or [] for none. ' +
        'Paths resolve from attachmentsDir and must stay inside it; a missing file fails the record.',
      examples: ['record.invoicePath', "[{ path: record.invoice, filename: 'invoice.pdf' }]"],
    },
    attachmentsDir: {
      type: 'string',
      minLength: 1,
      default: '.',
      description: "The folder attachment paths resolve from, relative to the job file; a path outside it — by .. or through a symbolic link — fails the record (records cannot attach any file on the machine).",
      examples: ['data/invoices'],
    },
    key: {
      type: 'string',
      expression: true,
      default: 'record.id',
      description:
        'Names the message: a key mailed once is never mailed again by this step — not after a crash and resume, not in a rerun, ' +
        'not after --fresh — unless you run with --fresh --resend. The Message-ID is derived from the job name and this key.',
      examples: ['record.id', "record.email + ':welcome'"],
    },
    strict: {
      type: 'boolean',
      default: true,
      description:
        "A {{ }} whose value is null or undefined fails the record (naming the field and the expression) instead of rendering empty. Write {{ record.nickname ?? '' }} for optional values, or set false to render missing values empty as elsewhere in Sluice.",
      examples: [false],
    },
    escapeHtml: {
      type: 'boolean',
      default: true,
      description: 'HTML-escape the values interpolated into html/htmlFile, so a record cannot inject markup. Set false when a field holds trusted HTML.',
      examples: [false],
    },
    messageIdDomain: {
      type: 'string',
      default: 'sluice.local',
      pattern: '^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$',
      description: 'The part of each Message-ID after the @ (<hash of job and key>@domain); your sending domain is a good choice.',
      examples: ['mail.acme.example'],
    },
    ledger: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+$',
      description:
        "Name of the durable set of keys already mailed, kept in the job's checkpoint store. Default: email-<step id>. " +
        'Keep it when renaming the step, or every key is mailed again.',
      examples: ['welcome-mails'],
    },
  },
} as const;

// ---------- rules ----------

/** Rule: a message needs a body. */
export function bodyIsGiven(config: EmailSinkConfig): RuleViolation | undefined {
  if (config.text !== undefined || config.textFile !== undefined || config.html !== undefined || config.htmlFile !== undefined) return undefined;
  return { message: 'a message needs a body: give text, textFile, html or htmlFile', hint: 'e.g. htmlFile: templates/welcome.html' };
}

/** Rule: each body comes from one place. */
export function oneSourcePerBody(config: EmailSinkConfig): RuleViolation[] | undefined {
  const violations: RuleViolation[] = [];
  if (config.html !== undefined && config.htmlFile !== undefined) violations.push({ path: 'htmlFile', message: 'give html or htmlFile, not both' });
  if (config.text !== undefined && config.textFile !== undefined) violations.push({ path: 'textFile', message: 'give text or textFile, not both' });
  return violations.length ? violations : undefined;
}

/** Rule: the transport knows where to deliver. */
export function transportIsComplete(config: EmailSinkConfig): RuleViolation | undefined {
  const type = config.transport?.type ?? 'smtp';
  if (type === 'file') {
    return config.transport?.dir === undefined
      ? { path: 'transport.dir', message: 'transport type file needs dir: the folder for the .eml files', hint: 'e.g. transport: { type: file, dir: out/mail }' }
      : undefined;
  }
  if (config.transport?.dir !== undefined) return { path: 'transport.dir', message: 'dir applies to transport type file only', hint: 'remove dir, or set type: file' };
  if (config.smtp === undefined) {
    return {
      path: 'smtp',
      message: 'the smtp transport needs smtp: the server URL',
      hint: 'e.g. smtp: ${env:SMTP_URL} (smtp://user:pass@host:587), or transport: { type: file, dir: out/mail } to write .eml files',
    };
  }
  return undefined;
}

/** Rule: the smtp URL is smtp:// or smtps:// (the value is a secret: never echoed). */
export function smtpUrlIsValid(config: EmailSinkConfig): RuleViolation | undefined {
  if (config.smtp === undefined || (config.transport?.type ?? 'smtp') === 'file') return undefined;
  let url: URL;
  try {
    url = new URL(config.smtp);
  } catch {
    return { path: 'smtp', message: 'must be a URL like smtp://host:587 or smtps://host:465 (the value is not shown: it may hold a password)' };
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    return { path: 'smtp', message: `must be an smtp:// or smtps:// URL (got ${url.protocol}//…)`, hint: 'smtp:// for STARTTLS (port 587 or 25), smtps:// for TLS from the start (port 465)' };
  }
  if (url.hostname === '') return { path: 'smtp', message: 'the URL names no host' };
  return undefined;
}

/** Rule: address fields without `{{ }}` are checked now rather than failing every record. */
export function staticAddressesAreValid(config: EmailSinkConfig): RuleViolation[] | undefined {
  const violations: RuleViolation[] = [];
  for (const field of ['from', 'to', 'cc', 'bcc', 'replyTo'] as const) {
    const value = config[field];
    if (value === undefined || value.includes('{{')) continue;
    if (value.trim() === '' && field !== 'from' && field !== 'to') continue;
    const parsed = parseAddressList(value);
    if ('invalid' in parsed) violations.push({ path: field, message: `${shown(parsed.invalid)} is not an email address`, hint: 'write address@domain or Name <address@domain>' });
    else if (parsed.mailboxes.length === 0) violations.push({ path: field, message: 'is empty' });
    else if (field === 'from' && parsed.mailboxes.length > 1) violations.push({ path: field, message: 'must be one address' });
  }
  return violations.length ? violations : undefined;
}

const RESERVED_HEADERS = new Set([
  'message-id', 'from', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'date', 'sender',
  'mime-version', 'content-type', 'content-transfer-encoding',
]);

/** Rule: headers have valid names and do not set what the sink sets itself. */
export function headersAreAllowed(config: EmailSinkConfig): RuleViolation[] | undefined {
  const violations: RuleViolation[] = [];
  for (const name of Object.keys(config.headers ?? {})) {
    // Not `headers.<name>`: the engine splits rule paths on dots.
    if (!/^[!-9;-~]+$/.test(name)) violations.push({ path: 'headers', message: `${shown(name)} is not a valid header name` });
    else if (RESERVED_HEADERS.has(name.toLowerCase())) {
      const option = name.toLowerCase() === 'message-id' ? 'key (the Message-ID is derived from it)' : name.toLowerCase() === 'reply-to' ? 'replyTo' : name.toLowerCase();
      violations.push({ path: 'headers', message: `header ${name} is set by the email sink`, hint: `use the ${option} option` });
    }
  }
  return violations.length ? violations : undefined;
}

function ledgerName(ctx: PluginContext, options: EmailOptions): string {
  return options.ledger ?? `email-${ctx.step.id.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** The `email` sink: templated mail over SMTP, each record key mailed at most once across runs. */
export const emailSink = defineSink({
  name: 'email',
  description: 'Sends one templated email per record over SMTP (nodemailer, pooled); each key is mailed at most once across runs (a ledger).',
  schema: emailSinkSchema,
  rules: [
    bodyIsGiven,
    oneSourcePerBody,
    transportIsComplete,
    smtpUrlIsValid,
    staticAddressesAreValid,
    headersAreAllowed,
  ],
  async create(config, ctx): Promise<SinkInstance> {
    const options = normaliseEmailConfig(config as unknown as EmailSinkConfig);
    const problems = [transportIsComplete, smtpUrlIsValid].map((rule) => rule(config as unknown as EmailSinkConfig)).filter((p) => p !== undefined);
    if (problems.length) throw new PermanentError(`email: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    // Template files are read and checked now: a typo fails the start, not every record.
    const messages = await MessageBuilder.create(ctx, options);
    if (ctx.job.dryRun) return new EmailWriter(ctx, messages, await discardTransport(), undefined);

    let ledger: Ledger;
    try {
      ledger = await ctx.ledger(ledgerName(ctx, options));
    } catch (error) {
      throw new PermanentError(
        `email: cannot keep track of the mails sent (${(error as Error).message}); the email sink needs a ledger to mail each key at most once — ` +
          `use checkpoint.store: file (the default) or sql`,
        { cause: error },
      );
    }
    let transport: MailTransport;
    if (options.transport.type === 'file') {
      transport = await fileTransport(ctx.resolvePath(options.transport.dir!));
    } else {
      const smtp = await smtpTransport({
        url: options.smtp!,
        ...(options.auth ? { auth: options.auth } : {}),
        requireTLS: options.requireTLS,
        tls: options.tls,
        maxConnections: Math.max(1, ctx.step.concurrency),
        timeoutMs: Math.min(ctx.step.timeoutMs, 60_000),
      });
      try {
        // Fails the start on a wrong host, port, TLS setting or password, before any record.
        await smtp.verify();
      } catch (error) {
        await smtp.close();
        throw new PermanentError(`email: cannot use the SMTP server ${safeUrl(options.smtp!)}: ${ctx.redact((error as Error).message)}`, { cause: error });
      }
      transport = smtp;
    }
    return new EmailWriter(ctx, messages, transport, ledger);
  },
});
