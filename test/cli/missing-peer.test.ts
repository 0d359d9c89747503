import { describe, expect, it, vi } from 'vitest';
import { missingPeerError } from '../../src/optional-peer.js';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';

// A project without `pg`: loading sagaflow/postgres fails as it does there, with the error that
// names the package to install.
vi.mock('../../src/postgres-runtime.js', () => ({
  get PostgresStore(): never {
    throw missingPeerError(
      { entry: 'sagaflow/postgres', peer: 'pg', hint: 'and, for TypeScript, `npm install --save-dev @types/pg`' },
      new Error("Cannot find package 'pg'"),
    );
  },
}));

describe('a store whose driver is not installed', () => {
  it('is one line naming the package, without an error class or a stack-trace hint', async () => {
    let stderr = '';
    const io: CliIo = { stdout: { write: () => undefined }, stderr: { write: (text: string) => (stderr += text) } };
    const code = await runCli(['runs', '--store', 'postgres://postgres@127.0.0.1:5432/test'], io);
    expect(code).toBe(2);
    expect(stderr).toBe(
      "error: sagaflow/postgres needs the package 'pg', which is not installed: run `npm install pg` in your project (and, for TypeScript, `npm install --save-dev @types/pg`). It is an optional peer dependency of sagaflow, installed only by the projects that use sagaflow/postgres.\n",
    );
  });
});
