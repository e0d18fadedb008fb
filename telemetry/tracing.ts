import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/**
 * OpenTelemetry for one process (the API or the worker). Off unless an OTLP endpoint is
 * configured (or a test passes an exporter): then nothing is registered, no interceptor,
 * middleware or wrapper is installed, and the hot paths pay nothing.
 */
export interface Tracing {
  /** The process's span processor: the worker's workflow-span sink feeds it too. */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Exports what is buffered, then unregisters the provider. */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** Whether a tracer provider is registered in this process (wrappers are installed only then). */
export function tracingEnabled(): boolean {
  return active !== undefined;
}

export function startTracing(opts: { serviceName: string; otlpEndpoint?: string; exporter?: SpanExporter }): Tracing | undefined {
  if (active) return active;
  let spanProcessor: SpanProcessor;
  if (opts.exporter) {
    // Tests read spans as soon as they end.
    spanProcessor = new SimpleSpanProcessor(opts.exporter);
  } else if (opts.otlpEndpoint) {
    spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }));
  } else {
    return undefined;
  }
  const resource = new Resource({ [ATTR_SERVICE_NAME]: opts.serviceName });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // W3C trace context is the default propagator: the Temporal interceptors carry it in headers.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  const tracing: Tracing = {
    spanProcessor,
    resource,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      if (active === tracing) active = undefined;
    },
  };
  active = tracing;
  return tracing;
}
