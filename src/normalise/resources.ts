/** Files shipped beside the code (built-in mappings, the mapping JSON Schema), at the package root. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

/** Reads a shipped file, `relative` to the package root. */
export function readResource(relative: string): string {
  const path = join(packageRoot(), relative);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`stixflow: cannot read ${relative} at ${path}: ${String(error)}`, { cause: error });
  }
}
