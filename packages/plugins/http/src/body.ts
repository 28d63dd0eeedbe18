import type { PluginContext, SluiceRecord } from '@sluice/core';

/** How a request body is made from a record: a template (text), an expression (JSON), or the record. */
export interface BodyConfig {
  body?: string;
  json?: string;
}

export interface RenderedBody {
  readonly body: string;
  readonly contentType: string;
}

/** Compiles `body`/`json` once; `render(record)` gives the body, or undefined when there is none. */
export function bodyRenderer(
  ctx: PluginContext,
  config: BodyConfig,
  fallback: 'record' | 'none',
): ((record: SluiceRecord) => RenderedBody) | undefined {
  if (config.body !== undefined) {
    const source = config.body;
    const contentType = /^\s*[[{]/.test(source) ? 'application/json' : 'text/plain; charset=utf-8';
    if (!source.includes('{{')) return () => ({ body: source, contentType });
    const template = ctx.template(source);
    return (record) => ({ body: template.render(record), contentType });
  }
  if (config.json !== undefined) {
    const expression = ctx.expression(config.json);
    return (record) => ({ body: JSON.stringify(expression.evaluate(record)) ?? 'null', contentType: 'application/json' });
  }
  if (fallback === 'record') return (record) => ({ body: JSON.stringify(record), contentType: 'application/json' });
  return undefined;
}

/** The value a record becomes in a JSON body: `json` evaluated, or the record itself. */
export function jsonValueOf(ctx: PluginContext, json: string | undefined): (record: SluiceRecord) => unknown {
  if (json === undefined) return (record) => record;
  const expression = ctx.expression(json);
  return (record) => expression.evaluate(record);
}

export const bodyOption = {
  type: 'string',
  template: true,
  description:
    'The request body as text, a template filled in per record. Sent as application/json when it starts with { or [, else text/plain (override with a Content-Type header). Values are inserted as they are: for JSON bodies prefer `json`, which escapes.',
  examples: ['{"email": "{{ record.email }}"}', 'id={{ record.id }}'],
} as const;

export const jsonOption = {
  type: 'string',
  expression: true,
  description: 'An expression whose value is sent as a JSON body (properly escaped).',
  examples: ['({ email: record.email, name: record.name })', 'record.payload'],
} as const;
