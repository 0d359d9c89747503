// What `import 'sagaflow/otel'` runs (package.json `exports`). Its types and documentation are
// those of `otel.ts`, the entry point's `types`: this file exports the same names. The
// instrumentation is imported dynamically so that a project without @opentelemetry/api (an
// optional peer dependency) gets an error naming the package to install, not Node's "Cannot find
// package" from deep inside.
import { importWithPeer } from './optional-peer.js';
import type * as OpenTelemetryModule from './otel/open-telemetry.js';

const loaded: typeof OpenTelemetryModule = await importWithPeer(
  { entry: 'sagaflow/otel', peer: '@opentelemetry/api', hint: 'with an OpenTelemetry SDK and exporter, such as @opentelemetry/sdk-node' },
  () => import('./otel/open-telemetry.js'),
);

/** See `otel.ts`. */
export const openTelemetry: typeof OpenTelemetryModule.openTelemetry = loaded.openTelemetry;
export type { OpenTelemetryOptions, SagaSpanName, SagaSpanTarget } from './otel/open-telemetry.js';
