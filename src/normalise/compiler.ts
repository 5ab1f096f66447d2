/**
 * Compiles a validated mapping definition into closures, once, at load time. The parts, one module each under
 * `compile/`:
 * - the object plan (object-plan.ts): the SCOs the target paths describe, each with a fixed slot;
 * - setters (setters.ts): what each field rule does with a value, specialised by the object it writes;
 * - the field trie (field-trie.ts): every mapped source path, so one walk over the event visits each key once;
 * - emit (emit.ts): time, source id, ids bottom-up, links and the observed-data;
 * - the per-event scratch (scratch.ts): everything one event's run writes, passed explicitly to each step.
 */
import { compileCondition, compileDetect, compileFieldGetter, type Condition, type FieldGetter } from './fields.js';
import { compileParser } from './parsers.js';
import * as transforms from './transforms.js';
import type { TransformFn, TransformName, TransformSpec } from './transforms.js';
import type { CompiledMapping, FieldRule, MappingDefinition, MappingOutcome, RunContext } from './types.js';
import { emit, type Constant } from './compile/emit.js';
import { compileLeaf, FieldTrie } from './compile/field-trie.js';
import { compileRawFieldNames, type RawFieldsPlan } from './compile/raw-fields.js';
import type { CompileIssue } from './compile/issues.js';
import { ObjectPlan } from './compile/object-plan.js';
import { beginEvent, createScratch, endEvent, type EventScratch } from './compile/scratch.js';
import {
  chainTransforms,
  compileAssign,
  compileSetter,
  type Assign,
  type ScratchPredicate,
} from './compile/setters.js';

export type { CompileIssue } from './compile/issues.js';

const TRANSFORMS = transforms.TRANSFORMS;

function asList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

/** A `compose` rule: a text built from fixed parts and fields (`{host}{uri}`), then mapped like a field. */
interface Compose {
  parts: (string | FieldGetter)[];
  assign: Assign;
}

export function compileMapping(definition: MappingDefinition, issues: CompileIssue[]): CompiledMapping {
  const caseInsensitive = definition.case_insensitive === true;
  const aliases = definition.aliases ?? {};
  const readOptions = { caseInsensitive, aliases, roots: definition.roots ?? [] };
  const detect = compileDetect(definition.detect, readOptions);
  const mappingName = definition.name;
  const nullValues =
    definition.null_values === undefined || definition.null_values.length === 0
      ? undefined
      : new Set(definition.null_values);

  // Rules of one field often share a condition (`EventID in [1]` on every hash); each is evaluated once per
  // event, its result kept in the scratch.
  const conditions = new Map<string, ScratchPredicate>();
  const sharedCondition = (condition: Condition): ScratchPredicate => {
    const key = JSON.stringify(condition);
    let predicate = conditions.get(key);
    if (predicate === undefined) {
      const evaluate = compileCondition(condition, readOptions);
      const slot = conditions.size;
      predicate = (scratch) => {
        let result = scratch.conditions[slot] as number;
        if (result < 0) {
          result = evaluate(scratch.event) ? 1 : 0;
          scratch.conditions[slot] = result;
        }
        return result === 1;
      };
      conditions.set(key, predicate);
    }
    return predicate;
  };

  /** Transform functions of a rule; ip-to-sco-type is applied by the rule itself (ipScoType), after the others. */
  const resolveTransforms = (specs: TransformSpec[], at: (string | number)[]): TransformFn[] => {
    const fns: TransformFn[] = [];
    for (const spec of specs) {
      if (typeof spec === 'string') {
        if (spec !== 'ip-to-sco-type') fns.push(TRANSFORMS[spec]);
        continue;
      }
      const table = definition.tables?.[spec.lookup] ?? transforms.BUILT_IN_TABLES[spec.lookup];
      if (table === undefined) {
        issues.push({
          message: `lookup: no table "${spec.lookup}" (the mapping's tables, or ${Object.keys(transforms.BUILT_IN_TABLES).join(', ')})`,
          at,
        });
        continue;
      }
      fns.push(transforms.lookupTransform(table, spec.keep === true, spec.skip === true));
    }
    return fns;
  };

  const plan = new ObjectPlan(definition.types ?? {}, issues);

  const compileRule = (rule: FieldRule, at: (string | number)[]): Assign | undefined => {
    const target = typeof rule === 'string' ? rule : rule.target;
    const transformSpecs: TransformSpec[] =
      typeof rule === 'string' || rule.transform === undefined
        ? []
        : Array.isArray(rule.transform)
          ? rule.transform
          : [rule.transform];
    const transformNames = transformSpecs.filter((t): t is TransformName => typeof t === 'string');
    const when = typeof rule === 'string' || rule.when === undefined ? undefined : sharedCondition(rule.when);
    const resolved = plan.resolveTarget(target, typeof rule === 'string' ? at : [...at, 'target']);
    if (resolved === undefined) return undefined;
    const { node, property } = resolved;
    const typesByIp = transformNames.includes('ip-to-sco-type');
    if (typesByIp) {
      if (node.parent === undefined) {
        issues.push({
          message: `"${target}": ip-to-sco-type chooses the type of a referenced object (e.g. network-traffic:dst_ref.value); a root object's type is fixed by the path`,
          at,
        });
        return undefined;
      }
      node.typedRules++;
    } else {
      node.untypedRules++;
    }
    const transform = chainTransforms(resolveTransforms(transformSpecs, at));
    return compileAssign({ node, property, transform, typesByIp, when });
  };

  // ---- Field trie ----
  const trie = new FieldTrie({ caseInsensitive, nullValues });
  const assignsByField = new Map<string, Assign[]>();
  for (const [field, rules] of Object.entries(definition.fields ?? {})) {
    const list = Array.isArray(rules) ? rules : [rules];
    const assigns: Assign[] = [];
    list.forEach((rule, i) => {
      const at = Array.isArray(rules) ? ['fields', field, i] : ['fields', field];
      const assign = compileRule(rule, at);
      if (assign !== undefined) assigns.push(assign);
    });
    assignsByField.set(field, assigns);
    trie.node(field);
  }

  const startFields = asList(definition.time?.start);
  const endFields = asList(definition.time?.end);
  const idSpec = definition.source_id;
  const idJoin = typeof idSpec === 'object' && !Array.isArray(idSpec);
  const idFields = idJoin ? (idSpec as { join: string[] }).join : asList(idSpec as string | string[] | undefined);
  for (const [role, list] of [
    ['time.start', startFields],
    ['time.end', endFields],
    ['source_id', idFields],
  ] as const) {
    if (list.length > 30) issues.push({ message: `${role}: at most 30 fields`, at: role.split('.') });
    for (const field of list) trie.node(field);
  }
  for (const field of definition.ignore ?? []) trie.node(field).ignore = true;
  for (const field of Object.keys(definition.parse ?? {})) trie.node(field);
  const rootAliases = (definition.roots ?? []).map((path) => trie.node(path));
  for (const list of Object.values(aliases)) for (const path of list) trie.node(path);

  for (const [path, node] of trie.paths()) {
    const assigns = assignsByField.get(path) ?? [];
    const slots = { start: startFields.indexOf(path), end: endFields.indexOf(path), id: idFields.indexOf(path) };
    if (assigns.length > 0 || slots.start >= 0 || slots.end >= 0 || slots.id >= 0) {
      node.leaf = compileLeaf(path, assigns, slots);
    }
  }
  trie.link();
  // Aliases read their canonical field's rules (reported under the canonical name); roots read the top-level rules.
  for (const [canonical, list] of Object.entries(aliases)) {
    const leaf = trie.find(canonical)?.leaf;
    if (leaf === undefined) {
      issues.push({ message: `aliases: "${canonical}" is not a field the mapping maps`, at: ['aliases', canonical] });
      continue;
    }
    for (const path of list) trie.node(path).leaf ??= leaf;
  }
  for (const node of rootAliases) trie.addRoot(node);
  for (const [field, spec] of Object.entries(definition.parse ?? {})) {
    const node = trie.node(field);
    node.parse = compileParser(spec);
    node.children ??= new Map();
  }
  trie.seal();

  // ---- Defaults, constants, compose, anchor and links ----
  for (const [target, value] of Object.entries(definition.defaults ?? {})) {
    const resolved = plan.resolveFixedTarget(target, ['defaults', target], 'defaults');
    if (resolved !== undefined) resolved.node.defaults.push([resolved.property, value]);
  }
  const constants: Constant[] = [];
  for (const [target, value] of Object.entries(definition.constants ?? {})) {
    const resolved = plan.resolveFixedTarget(target, ['constants', target], 'constants');
    if (resolved !== undefined) constants.push({ node: resolved.node, set: compileSetter(resolved.property), value });
  }
  for (const [key, value] of Object.entries(definition.sigma_logsource ?? {})) {
    // Sigma rules' logsources are read lower-cased, and the rules compare them exactly.
    const target = `x-oca-event:x_sigma_logsource.${key}`;
    const resolved = plan.resolveFixedTarget(target, ['sigma_logsource', key], 'sigma_logsource');
    if (resolved !== undefined)
      constants.push({ node: resolved.node, set: compileSetter(resolved.property), value: value.toLowerCase() });
  }
  const composes: Compose[] = (definition.compose ?? []).flatMap((rule, i) => {
    const parts: (string | FieldGetter)[] = [];
    const template = rule.template;
    let last = 0;
    for (const m of template.matchAll(/\{([^{}]+)\}/g)) {
      if ((m.index ?? 0) > last) parts.push(template.slice(last, m.index));
      parts.push(compileFieldGetter(m[1] as string, readOptions));
      last = (m.index ?? 0) + m[0].length;
    }
    if (last < template.length) parts.push(template.slice(last));
    if (!parts.some((p) => typeof p !== 'string') && rule.when === undefined) {
      // A fixed text is allowed with a condition: `outcome: failure` when errorCode is present.
      issues.push({
        message: `compose: "${template}" names no field (write fields in braces: {host}{uri}) and has no when`,
        at: ['compose', i, 'template'],
      });
      return [];
    }
    const assign = compileRule(
      {
        target: rule.target,
        ...(rule.transform === undefined ? {} : { transform: rule.transform }),
        ...(rule.when === undefined ? {} : { when: rule.when }),
      },
      ['compose', i],
    );
    return assign === undefined ? [] : [{ parts, assign }];
  });
  let rawFields: RawFieldsPlan | undefined;
  if (definition.raw_fields !== undefined) {
    const { target, under, full_names: fullNames = false } = definition.raw_fields;
    const resolved = plan.resolveFixedTarget(target, ['raw_fields', 'target'], 'raw_fields');
    if (resolved !== undefined)
      rawFields = { ...resolved, nameOf: compileRawFieldNames(under, fullNames), ...(fullNames ? { fullNames } : {}) };
  }
  for (const [property, targetKey] of Object.entries(definition.anchor ?? {})) {
    plan.addLink(`x-oca-event:${property}`, targetKey, true, ['anchor', property]);
  }
  for (const [holderText, targetKey] of Object.entries(definition.links ?? {})) {
    plan.addLink(holderText, targetKey, false, ['links', holderText]);
  }
  plan.checkTypes();

  const emitPlan = {
    mappingName,
    postOrder: plan.postOrder(),
    links: plan.links,
    constants,
    startFields,
    endFields,
    idFields,
    idJoin,
    timeReceived: definition.time?.received === true,
    rawFields,
  };
  const scratch = createScratch({
    objects: plan.nodes.length,
    startFields: startFields.length,
    endFields: endFields.length,
    idFields: idFields.length,
    conditions: conditions.size,
  });

  const compose = (rule: Compose, scratch: EventScratch): void => {
    let text = '';
    for (const part of rule.parts) {
      if (typeof part === 'string') {
        text += part;
        continue;
      }
      const value = part(scratch.event);
      if (typeof value !== 'string' && typeof value !== 'number') return;
      if (typeof value === 'string' && (value.length === 0 || nullValues?.has(value) === true)) return;
      text += String(value);
    }
    rule.assign(text, scratch);
  };

  function run(event: Parameters<CompiledMapping['run']>[0], context: RunContext): MappingOutcome {
    beginEvent(scratch, event, context.consumed);
    try {
      trie.walk(event, trie.root, '', scratch);
      for (let i = 0; i < composes.length; i++) compose(composes[i]!, scratch);
      return emit(emitPlan, scratch, context);
    } finally {
      // Do not keep the last event alive through the scratch.
      endEvent(scratch);
    }
  }

  return { detect, run };
}
