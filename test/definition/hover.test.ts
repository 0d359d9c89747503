import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

// What an editor shows on hover, asked of the TypeScript language service over a fixture that
// imports the package as users do (the tsconfig's paths map `sagaflow` to src/).
const root = fileURLToPath(new URL('../..', import.meta.url));
const fixture = `${root}test/definition/__hover-fixture.ts`;
const source = `
import { z } from 'zod';
import { createOrchestrator, defineSaga, isRunError } from 'sagaflow';

const transfer = defineSaga({ name: 'transfer', input: z.object({ cents: z.number() }) })
  .stage('debit', {
    execute: async ({ input }) => ({ entryId: 'd-1', cents: input.cents }),
    compensate: async (compensateContext) => void compensateContext,
  })
  .stage('credit', { execute: async ({ results }) => ({ entryId: \`c-\${results.debit.entryId}\` }) })
  .stage('notify', { after: ['credit'], execute: async ({ results: notifyResults }) => notifyResults.credit.entryId })
  .build();

const orchestrator = createOrchestrator();
try {
  const runOutputs = await orchestrator.run(transfer, { cents: 1 });
  void runOutputs;
} catch (error) {
  if (isRunError(transfer, error)) void error.outputs;
}
`;

let service: ts.LanguageService;

function hover(word: string, occurrence = 0): string {
  let at = -1;
  for (let index = 0; index <= occurrence; index++) at = source.indexOf(word, at + 1);
  if (at < 0) throw new Error(`'${word}' is not in the fixture`);
  const info = service.getQuickInfoAtPosition(fixture, at);
  return ts.displayPartsToString(info?.displayParts).replace(/\s+/g, ' ');
}

beforeAll(() => {
  const config = ts.getParsedCommandLineOfConfigFile(`${root}tsconfig.json`, {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (config === undefined) throw new Error('tsconfig.json could not be read');
  const read = (file: string): string | undefined => (file === fixture ? source : ts.sys.readFile(file));
  service = ts.createLanguageService({
    getCompilationSettings: () => config.options,
    getScriptFileNames: () => [fixture],
    getScriptVersion: () => '1',
    getScriptSnapshot: (file) => {
      const text = read(file);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => root,
    getDefaultLibFileName: (options) => ts.getDefaultLibFilePath(options),
    fileExists: (file) => file === fixture || ts.sys.fileExists(file),
    readFile: read,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  });
});

describe('hover in an editor', () => {
  it('compiles the fixture without errors', () => {
    const diagnostics = service.getSemanticDiagnostics(fixture).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });

  it('shows ctx.results and ctx.input as plain object types, read-only at every depth, not the computation behind them', () => {
    expect(hover('results')).toBe('(parameter) results: { readonly debit: { readonly entryId: string; readonly cents: number; }; }');
    expect(hover('notifyResults')).toBe(
      '(parameter) notifyResults: { readonly debit: { readonly entryId: string; readonly cents: number; }; readonly credit: { readonly entryId: string; }; }',
    );
    expect(hover('input', 1)).toBe('(parameter) input: { readonly cents: number; }');
  });

  it("names the compensate context by its public type, with the stage's output", () => {
    expect(hover('compensateContext')).toBe('(parameter) compensateContext: CompensateContext<{ cents: number; }, {}, { entryId: string; cents: number; }>');
  });

  it('shows the outputs of run() and of a narrowed run error as plain object types, read-only at every depth', () => {
    expect(hover('runOutputs')).toBe(
      'const runOutputs: { readonly debit: { readonly entryId: string; readonly cents: number; }; readonly credit: { readonly entryId: string; }; readonly notify: string; }',
    );
    expect(hover('outputs')).toMatch(
      /\.outputs: \{ readonly debit\?: \{ readonly entryId: string; readonly cents: number; \}; readonly credit\?: \{ readonly entryId: string; \}; readonly notify\?: string; \}$/,
    );
  });

  it('never mentions the builder bookkeeping types', () => {
    for (const word of ['results', 'notifyResults', 'compensateContext', 'runOutputs']) {
      expect(hover(word)).not.toMatch(/ResultsOf|AncestorsOf|DeclaredStageInfo|StageAfter|ReadonlyResults|Readonly<|DeepReadonly/);
    }
    expect(hover('input', 1)).not.toMatch(/Readonly/);
  });
});
