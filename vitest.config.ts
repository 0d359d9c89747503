import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (file: string): string => fileURLToPath(new URL(`./src/${file}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests import the package by its public name, exactly as users do: the modules package.json's
    // `exports` runs (the SQLite, PostgreSQL and OpenTelemetry entries load their code behind a peer check;
    // their types, from tsconfig.json's paths, are those of sqlite.ts, postgres.ts and otel.ts).
    alias: [
      { find: /^sagaflow$/, replacement: src('index.ts') },
      { find: /^sagaflow\/sqlite$/, replacement: src('sqlite-runtime.ts') },
      { find: /^sagaflow\/postgres$/, replacement: src('postgres-runtime.ts') },
      { find: /^sagaflow\/testing$/, replacement: src('testing.ts') },
      { find: /^sagaflow\/otel$/, replacement: src('otel-runtime.ts') },
      { find: /^sagaflow\/inspector$/, replacement: src('inspector.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
