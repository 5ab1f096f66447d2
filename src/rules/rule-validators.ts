/**
 * The JSON Schema validators of rule documents and of their shared exceptions: one Ajv instance
 * for both (the exception schema is a definition of the rule schema), compiled on first use.
 * Compiling the rule schema is a large part of a Lambda's init; a second instance compiled it
 * again for exceptions, and a process that loads only precompiled rules needs neither.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { RULE_SCHEMA } from './schema.js';

let ajv: Ajv2020 | undefined;
let ruleValidator: ValidateFunction | undefined;
let exceptionValidator: ValidateFunction | undefined;

function schemaCompiler(): Ajv2020 {
  if (ajv === undefined) {
    ajv = new Ajv2020({ allErrors: true, strict: false });
    ajv.addSchema(RULE_SCHEMA);
  }
  return ajv;
}

function compiled(ref: string): ValidateFunction {
  const validate = schemaCompiler().getSchema(ref);
  if (!validate) throw new Error(`unreachable: the rule schema defines ${ref}`);
  return validate;
}

/** Validates one rule document against the rule schema. */
export function validateRuleDocument(): ValidateFunction {
  return (ruleValidator ??= compiled(RULE_SCHEMA.$id));
}

/** Validates one `exceptions:` entry against the rule schema's `$defs/exception`. */
export function validateExceptionEntry(): ValidateFunction {
  return (exceptionValidator ??= compiled(`${RULE_SCHEMA.$id}#/$defs/exception`));
}
