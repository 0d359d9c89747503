// Type-checked lint rules: an orchestrator lives or dies by its unhandled promises.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'docs/api/**', 'node_modules/**', 'bench/peers/**', 'bench/.work/**', 'coverage/**', '**/*.js'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-empty-object-type': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // cli/ and inspector/ only call the public API (architecture rule): the entry points, never the internals.
    files: ['src/cli/**/*.ts', 'src/inspector/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['definition', 'runtime', 'journal', 'stores', 'errors', 'worker', 'testing'].flatMap((folder) => [`../${folder}/*`, `../../${folder}/*`]),
              message: 'src/cli and src/inspector only use the public API: import from ../index.js, ../sqlite.js, ../postgres.js or ../testing.js.',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests, benchmarks and demos poke at the API with loose values, and stages are often async without awaiting.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'sagas/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
