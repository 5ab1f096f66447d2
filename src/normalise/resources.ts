/**
 * Files shipped beside the code (built-in mappings, the mapping JSON Schema). They live at the repository root;
 * from `src/normalise/*.ts` that is `../../`, from the compiled `dist/src/normalise/*.js` it is `../../../`.
 */
import { readFileSync } from 'node:fs';

const ROOT_CANDIDATES = ['../../', '../../../'];

export function resourceUrl(relative: string): URL {
  return new URL(`../../${relative}`, import.meta.url);
}

/** Reads a shipped file, trying the source-tree layout first and then the compiled one. */
export function readResource(relative: string): string {
  let lastError: unknown;
  for (const root of ROOT_CANDIDATES) {
    try {
      return readFileSync(new URL(`${root}${relative}`, import.meta.url), 'utf8');
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`stixflow: cannot read ${relative} next to ${import.meta.url}: ${String(lastError)}`);
}
