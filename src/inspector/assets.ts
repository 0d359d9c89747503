import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { INSPECTOR_CSS } from './styles.js';

/** One file the page loads, with its gzip form and its entity tag. */
export interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzip: Buffer;
  readonly etag: string;
}

/** Three stages and a rollback arrow. */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="2" y="11" width="8" height="10" rx="2" fill="#15803d"/><rect x="12" y="11" width="8" height="10" rx="2" fill="#15803d"/><rect x="22" y="11" width="8" height="10" rx="2" fill="#b91c1c"/><path d="M26 25 Q16 32 6 25" fill="none" stroke="#7c3aed" stroke-width="2.5"/></svg>';

const clientDir = new URL('./client/', import.meta.url);

/** The stylesheet and the icon, by file name. */
export const STATIC_ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['inspector.css', asset('text/css; charset=utf-8', INSPECTOR_CSS)],
  ['favicon.svg', asset('image/svg+xml', FAVICON)],
]);

/**
 * The page's script modules, by file name, served from memory.
 *
 * @remarks
 * The built package serves `dist/inspector/client/*.js`, compiled by `tsc` with the rest. Run from
 * its sources (tests, `tsx`), there is no `.js` beside this file, so the TypeScript of each module
 * is transpiled once with `typescript` (a development dependency, there wherever the sources run).
 */
export async function loadScripts(): Promise<ReadonlyMap<string, Asset>> {
  const files = readdirSync(clientDir);
  const scripts = new Map<string, string>();
  if (files.includes('run-page.js')) {
    for (const name of files.filter((file) => file.endsWith('.js'))) {
      scripts.set(name, readFileSync(new URL(name, clientDir), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n'));
    }
  } else if (files.includes('run-page.ts')) {
    const ts = (await import('typescript')).default;
    for (const name of files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))) {
      const source = readFileSync(new URL(name, clientDir), 'utf8');
      const output = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, removeComments: true } });
      scripts.set(name.replace(/\.ts$/, '.js'), output.outputText);
    }
  } else {
    throw new Error(`The inspector's page script is missing from ${clientDir.pathname}: build it with 'tsc -p src/inspector/client'.`);
  }
  const assets = new Map<string, Asset>();
  for (const [name, text] of scripts) assets.set(name, asset('text/javascript; charset=utf-8', text));
  return assets;
}

function asset(type: string, text: string): Asset {
  const body = Buffer.from(text, 'utf8');
  return { type, body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}
