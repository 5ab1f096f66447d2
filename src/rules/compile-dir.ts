/**
 * `stixflow rules compile` and `cdk synth`: a rules directory loaded from its files and written
 * beside them in its precompiled form (./precompiled.ts), which later loads of the directory use
 * while the files stay as they were.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Diagnostic } from '../errors.js';
import { loadRules, readRuleSources, type LoadOptions } from './load.js';
import { COMPILED_RULES_FILE, encodeCompiledRules } from './precompiled.js';

export interface CompiledDirectory {
  /** The file written. */
  file: string;
  rules: number;
  /** Rules that did not load (their diagnostics are in `diagnostics`, and in the file). */
  errors: number;
  bytes: number;
  diagnostics: Diagnostic[];
}

/** Loads `dir` from its rule files and writes its precompiled form into it. */
export function writeCompiledRules(dir: string, options: LoadOptions = {}): CompiledDirectory {
  const read = readRuleSources([dir]);
  const loaded = loadRules(read.sources, options);
  const diagnostics = [...read.diagnostics, ...loaded.diagnostics];
  const text = encodeCompiledRules(dir, read.sources, { ...loaded, diagnostics }, options);
  const file = join(dir, COMPILED_RULES_FILE);
  writeFileSync(file, text);
  return {
    file,
    rules: loaded.rules.length,
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    bytes: Buffer.byteLength(text),
    diagnostics,
  };
}
