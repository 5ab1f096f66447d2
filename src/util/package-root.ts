/**
 * The one way to find stixflow's own files (mappings/, schemas/, rules/) at run time: they sit
 * beside its package.json, whichever way the code runs (from src/ by tsx, compiled in dist/src/,
 * installed under node_modules/stixflow, or from infra/ and bench/ in a checkout).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StixflowError } from '../errors.js';

let found: string | undefined;

/**
 * The directory of the nearest package.json above this module. Looked up on first use, not at
 * import: bundled Lambda code has no package.json around it and never asks.
 */
export function packageRoot(): string {
  if (found !== undefined) return found;
  const here = fileURLToPath(import.meta.url);
  for (let dir = dirname(here); ;) {
    if (existsSync(join(dir, 'package.json'))) return (found = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new StixflowError('package-root', `no package.json in any directory above ${here}`);
    dir = parent;
  }
}
