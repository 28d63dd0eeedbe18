import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { CLI_VERSION } from '../version.js';
import { RunSpans } from './run-spans.js';

/**
 * Whether the standard OTEL_* variables ask for traces: OTEL_TRACES_EXPORTER=otlp, or an OTLP
 * endpoint with OTEL_TRACES_EXPORTER unset; never with OTEL_SDK_DISABLED=true or exporter none.
 * Returns a warning for an exporter sluice does not have.
 */
export function tracesWanted(env: NodeJS.ProcessEnv): { on: boolean; warning?: string } {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return { on: false };
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean);
  if (exporters.length === 0) return { on: Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) };
  if (exporters.includes('none')) return { on: false };
  const unknown = exporters.filter((e) => e !== 'otlp');
  const warning = unknown.length ? `OTEL_TRACES_EXPORTER: sluice exports traces with otlp only (over HTTP); ignoring ${unknown.join(', ')}` : undefined;
  return { on: exporters.includes('otlp'), ...(warning ? { warning } : {}) };
}

/**
 * The tracer of a process, when traces are wanted: the OpenTelemetry SDK and its OTLP/HTTP
 * exporter load only then (a run without OTEL_* variables imports none of it). `exporter` replaces
 * the OTLP one (tests hand in an in-memory exporter); spans are then sent one by one.
 */
export async function openTracing(env: NodeJS.ProcessEnv, say: (line: string) => void, exporter?: SpanExporter): Promise<RunSpans | undefined> {
  const wanted = exporter ? { on: true } : tracesWanted(env);
  if (wanted.warning) say(`sluice: ${wanted.warning}`);
  if (!wanted.on) return undefined;
  const [sdk, resources, api] = await Promise.all([import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/resources'), import('@opentelemetry/api')]);
  const processor = exporter
    ? new sdk.SimpleSpanProcessor(exporter)
    : new sdk.BatchSpanProcessor(new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter());
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults.
  const resource = resources
    .resourceFromAttributes({ 'service.name': 'sluice', 'service.version': CLI_VERSION })
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [processor] });
  return new RunSpans(api, provider.getTracer('sluice', CLI_VERSION), async () => {
    try {
      await provider.shutdown();
    } catch (error) {
      say(`sluice: could not export traces: ${(error as Error).message}`);
    }
  });
}
