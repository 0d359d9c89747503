/**
 * Why a value given where a built saga is expected is not one, or `undefined` when it is one.
 *
 * @remarks
 * The common mistake is a `defineSaga(…).stage(…)` chain without its `.build()`: a builder has a
 * name but no input schema, shape or stages, and before this check it got as far as the input
 * check, which blamed the input (`Invalid input for saga 'undefined': … reading 'safeParse'`), or,
 * given to `createOrchestrator({ sagas })`, was registered silently. A builder is told apart by its
 * `build` method rather than by class, so that one made by another copy of sagaflow is too.
 */
export function sagaArgumentProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return `${describeNonObject(value)} is not a saga: make one with defineSaga(…).stage(…).build()`;
  const candidate = value as { readonly build?: unknown; readonly name?: unknown; readonly shapeHash?: unknown; readonly options?: { readonly name?: unknown } };
  if (typeof candidate.build === 'function') {
    const name = builderName(candidate);
    return `${name === undefined ? 'a saga builder' : `saga '${name}'`} is not built: end its defineSaga(…).stage(…) chain with .build() and pass what that returns`;
  }
  if (typeof candidate.name === 'string' && typeof candidate.shapeHash === 'string') return undefined;
  return 'an object that is not a saga was given: make one with defineSaga(…).stage(…).build()';
}

/** The name a builder was given by `defineSaga`, when it can be read. */
function builderName(builder: { readonly options?: { readonly name?: unknown } }): string | undefined {
  try {
    const name = builder.options?.name;
    return typeof name === 'string' ? JSON.stringify(name).slice(1, -1) : undefined;
  } catch {
    return undefined;
  }
}

function describeNonObject(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}
