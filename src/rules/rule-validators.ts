/**
 * The JSON Schema validators of rule documents and of their shared exceptions, compiled ahead
 * of time from the rule schema (src/rules/validator-source.ts; `npm run generate` writes them):
 * compiling the schema at start was most of a Lambda's init beside loading its modules.
 */
import type { ValidateFunction } from 'ajv/dist/2020.js';
import * as generated from './generated/rule-schema-validators.js';

const validators = generated as unknown as {
  validateRuleDocument: ValidateFunction;
  validateExceptionEntry: ValidateFunction;
};

/** Validates one rule document against the rule schema. */
export const validateRuleDocument: ValidateFunction = validators.validateRuleDocument;

/** Validates one `exceptions:` entry against the rule schema's `$defs/exception`. */
export const validateExceptionEntry: ValidateFunction = validators.validateExceptionEntry;
