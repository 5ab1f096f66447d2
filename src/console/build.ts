/**
 * Builds the console (src/console/app, bundled and minified with esbuild) into its three assets: the page, its
 * script and its style. The local stack builds it in memory when it starts; the CDK stack builds it at synth and
 * ships it inside the console function's bundle. Node-side code: the browser code in app/ never imports it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

/** The asset file names, as they are served under /console/ (the page is also served at /). */
export const CONSOLE_PAGE = 'index.html';
export const CONSOLE_SCRIPT = 'console.js';
export const CONSOLE_STYLE = 'console.css';

export interface ConsoleAsset {
  name: string;
  contentType: string;
  body: string;
}

const here = fileURLToPath(new URL('.', import.meta.url));

/** The three assets, built from the sources now (about 50 ms). */
export function buildConsoleAssets(): ConsoleAsset[] {
  const result = buildSync({
    entryPoints: [join(here, 'app', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
  });
  const script = result.outputFiles[0]?.text;
  if (script === undefined) throw new Error('esbuild produced no console script');
  return [
    {
      name: CONSOLE_PAGE,
      contentType: 'text/html; charset=utf-8',
      body: readFileSync(join(here, CONSOLE_PAGE), 'utf8'),
    },
    { name: CONSOLE_SCRIPT, contentType: 'text/javascript; charset=utf-8', body: script },
    {
      name: CONSOLE_STYLE,
      contentType: 'text/css; charset=utf-8',
      body: readFileSync(join(here, CONSOLE_STYLE), 'utf8'),
    },
  ];
}

/** Writes the built assets into `dir` (the console function reads them from there). */
export function writeConsoleAssets(dir: string, assets = buildConsoleAssets()): void {
  mkdirSync(dir, { recursive: true });
  for (const asset of assets) writeFileSync(join(dir, asset.name), asset.body);
}
