/**
 * What the STIX data model (src/pattern/stix-model.ts) says a generated value must be: the type
 * of the property at a path of an object type, so that `stixflow emit` and rule tests write an
 * integer where the model has one, a list where it has a list and a reference to an object of a
 * type the reference may point at. Custom types and properties (`x-…`, `x_…`) and dictionaries
 * are not in the model: for them the property's name decides, as before.
 */
import { STIX_OBJECT_TYPES, type PropertyType } from '../pattern/stix-model.js';

/**
 * The model's type of the property reached by `keys` (property names, list steps left out)
 * from an object of `objectType`; undefined when the model does not know it.
 */
export function modelPropertyType(objectType: string, keys: readonly string[]): PropertyType | undefined {
  const properties = STIX_OBJECT_TYPES.get(objectType);
  if (properties === undefined || keys.length === 0) return undefined;
  let type = properties.get(keys[0] as string);
  for (const key of keys.slice(1)) {
    if (type === undefined) return undefined;
    const holder = elementType(type);
    if (holder.kind === 'object') type = holder.properties.get(key);
    else if (holder.kind === 'extensions') type = holder.known.get(key);
    else if (holder.kind === 'hashes') type = { kind: 'string' };
    else return undefined;
  }
  return type;
}

/** A list's element type (lists of lists unwrapped); any other type as it is. */
export function elementType(type: PropertyType): PropertyType {
  let at = type;
  while (at.kind === 'list') at = at.of;
  return at;
}

/** Whether the model has a list at the path (a value generated for it alone goes in a list). */
export function isModelList(objectType: string, keys: readonly string[]): boolean {
  return modelPropertyType(objectType, keys)?.kind === 'list';
}

/** The object types a reference at the path may point at, per the model; undefined when it does not say. */
export function modelRefTargets(objectType: string, keys: readonly string[]): readonly string[] | undefined {
  const type = modelPropertyType(objectType, keys);
  if (type === undefined) return undefined;
  const element = elementType(type);
  return element.kind === 'ref' && element.targets !== 'any' ? element.targets : undefined;
}
