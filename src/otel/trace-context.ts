import { createTraceState, isSpanContextValid, trace, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
/** Version 00 of the W3C header: version, trace id, parent span id, flags. */
const TRACEPARENT_FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The W3C Trace Context propagator (`traceparent`, `tracestate`), written here so that what runs
 * journal does not depend on which propagator each process registered globally (an SDK that
 * registered none would journal nothing, and a run's later drives would start new traces).
 *
 * @internal
 */
export const w3cTraceContext: TextMapPropagator = {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(context);
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return;
    const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
    setter.set(carrier, TRACEPARENT, `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`);
    const state = spanContext.traceState?.serialize();
    if (state !== undefined && state !== '') setter.set(carrier, TRACESTATE, state);
  },
  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const parent = single(getter.get(carrier, TRACEPARENT));
    const match = parent === undefined ? null : TRACEPARENT_FORMAT.exec(parent.trim());
    if (match === null) return context;
    const [, traceId = '', spanId = '', flags = '00'] = match;
    const state = single(getter.get(carrier, TRACESTATE));
    const spanContext = {
      traceId,
      spanId,
      traceFlags: Number.parseInt(flags, 16),
      isRemote: true,
      ...(state === undefined || state === '' ? {} : { traceState: createTraceState(state) }),
    };
    return isSpanContextValid(spanContext) ? trace.setSpanContext(context, spanContext) : context;
  },
  fields: () => [TRACEPARENT, TRACESTATE],
};

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
