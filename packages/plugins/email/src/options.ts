// The email sink's configuration: as the job file gives it, and with every default filled in.
// Its own module so that the sink and the message builder both read it without importing each other.

/** The sink's `with` as it arrives from the job file (no defaults filled in). */
export interface EmailSinkConfig {
  smtp?: string;
  auth?: { user: string; pass: string };
  requireTLS?: boolean;
  tls?: { rejectUnauthorized?: boolean; servername?: string };
  transport?: { type?: 'smtp' | 'file'; dir?: string };
  from: string;
  to: string;
  cc?: string;
  bcc?: string;
  replyTo?: string;
  subject: string;
  text?: string;
  textFile?: string;
  html?: string;
  htmlFile?: string;
  headers?: Record<string, string>;
  attachments?: string;
  attachmentsDir?: string;
  key?: string;
  strict?: boolean;
  escapeHtml?: boolean;
  messageIdDomain?: string;
  ledger?: string;
}

/** Options with every default filled in. */
export interface EmailOptions {
  readonly transport: { readonly type: 'smtp' | 'file'; readonly dir?: string };
  readonly smtp?: string;
  readonly auth?: { readonly user: string; readonly pass: string };
  readonly requireTLS: boolean;
  readonly tls: { readonly rejectUnauthorized: boolean; readonly servername?: string };
  readonly fields: {
    readonly from: string;
    readonly to: string;
    readonly cc?: string;
    readonly bcc?: string;
    readonly replyTo?: string;
    readonly subject: string;
    readonly text?: string;
    readonly html?: string;
  };
  readonly textFile?: string;
  readonly htmlFile?: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly attachments?: string;
  readonly attachmentsDir: string;
  readonly key: string;
  readonly strict: boolean;
  readonly escapeHtml: boolean;
  readonly messageIdDomain: string;
  readonly ledger?: string;
}

/** Fills in defaults (the engine's ajv does not). */
export function normaliseEmailConfig(config: EmailSinkConfig): EmailOptions {
  return {
    transport: { type: config.transport?.type ?? 'smtp', ...(config.transport?.dir !== undefined ? { dir: config.transport.dir } : {}) },
    smtp: config.smtp,
    auth: config.auth,
    requireTLS: config.requireTLS ?? false,
    tls: { rejectUnauthorized: config.tls?.rejectUnauthorized ?? true, ...(config.tls?.servername ? { servername: config.tls.servername } : {}) },
    fields: {
      from: config.from,
      to: config.to,
      cc: config.cc,
      bcc: config.bcc,
      replyTo: config.replyTo,
      subject: config.subject,
      text: config.text,
      html: config.html,
    },
    textFile: config.textFile,
    htmlFile: config.htmlFile,
    headers: config.headers ?? {},
    attachments: config.attachments,
    attachmentsDir: config.attachmentsDir ?? '.',
    key: config.key ?? 'record.id',
    strict: config.strict ?? true,
    escapeHtml: config.escapeHtml ?? true,
    messageIdDomain: config.messageIdDomain ?? 'sluice.local',
    ledger: config.ledger,
  };
}
