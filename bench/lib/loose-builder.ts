import type { z } from 'zod';
import { defineSaga, type AnySaga, type SagaBuilderOptions } from '../../dist/index.js';

/**
 * A saga builder without per-stage types, for sagas whose stage names are computed in a loop
 * (the typed builder infers each name literally, so a loop cannot reassign it).
 */
export interface LooseBuilder {
  stage(name: string, definition: object): LooseBuilder;
  build(): AnySaga;
}

/** `defineSaga(options)`, typed loosely: see {@link LooseBuilder}. */
export function looseSaga(options: SagaBuilderOptions & { readonly input: z.ZodType }): LooseBuilder {
  return defineSaga(options);
}
