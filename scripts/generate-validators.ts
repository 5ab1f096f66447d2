/**
 * Writes the rule schema's validators as code (src/rules/validator-source.ts says why); run by
 * `npm run generate`, beside the ANTLR parser.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ruleValidatorsSource } from '../src/rules/validator-source.js';

const out = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'src',
  'rules',
  'generated',
  'rule-schema-validators.ts',
);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, ruleValidatorsSource());
console.log(`wrote ${out}`);
