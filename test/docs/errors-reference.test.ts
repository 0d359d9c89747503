import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sagaflow from 'sagaflow';
import * as testing from 'sagaflow/testing';
import { describe, expect, it } from 'vitest';

/**
 * docs/errors.md is the map of every error a user can meet: each code of `SagaErrorCode` has a
 * table row naming its class, and every error class the package exports is on the page.
 */
const page = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
const rows = page.split('\n').filter((line) => line.startsWith('| `'));

function errorClasses(module: Record<string, unknown>): string[] {
  return Object.entries(module)
    .filter(([name, value]) => typeof value === 'function' && /Error$/.test(name) && (value as { prototype?: unknown }).prototype instanceof Error)
    .map(([name]) => name);
}

/** An outcome just real enough for the run errors' constructors (they describe it in their message). */
const outcome = {
  runId: 'r',
  saga: 's',
  status: 'compensated',
  outputs: {},
  completionOrder: [],
  compensationOrder: [],
  failure: { stage: 'a', error: { name: 'Error', message: 'm' } },
  cancellation: { reason: 'r', by: 'external' },
  stages: new Map(),
};
/** Argument lists that some constructor of each error class takes (their codes are instance fields). */
const ARGUMENTS: readonly unknown[][] = [[outcome], ['x', []], ['x', 'x', []], ['x', 'x', 'x', []], ['x', 'x', 'x', 'x', []], ['x', 'x', 'x', 'x', 'x', 'x', 'x']];

/** The code an instance of the exported class `name` carries. */
function codeOf(name: string): string | undefined {
  const made = (sagaflow as Record<string, unknown>)[name] as (new (...args: unknown[]) => { code?: string }) | undefined;
  if (made === undefined) return undefined;
  for (const args of ARGUMENTS) {
    try {
      return new made(...args).code;
    } catch {
      // Another argument list.
    }
  }
  return undefined;
}

describe('docs/errors.md', () => {
  it.each(Object.values(sagaflow.SagaErrorCode))('has a row for %s naming the class that carries that code', (code) => {
    const row = rows.find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, `no row for ${code}`).toBeDefined();
    const name = /^\| `[A-Z_]+` \| `(\w+)` \|/.exec(row ?? '')?.[1] ?? '';
    expect(codeOf(name)).toBe(code);
  });

  it('names every error class the package exports', () => {
    const classes = [...errorClasses(sagaflow), ...errorClasses(testing)];
    expect(classes.length).toBeGreaterThan(25);
    const missing = classes.filter((name) => !page.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
