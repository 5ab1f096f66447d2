/**
 * Normalisation: any JSON event into STIX 2.1 observed-data and SCOs. See docs/normalisation.md.
 */
export { loadMapping, mappingSchema, setMappingSchemaText } from './loader.js';
export { builtInMappings, builtInMappingTexts, setBuiltInMappingTexts, BUILT_IN_MAPPING_FILES } from './builtin.js';
export { createNormaliser, toBundle, unknownSourceMessage } from './normaliser.js';
export { parseTimestamp, isStixTimestamp, compareStixTimestamps } from './timestamps.js';
export { uuidv5, canonicalJson, deterministicScoId, STIX_SCO_NAMESPACE, STIXFLOW_NAMESPACE } from './ids.js';
export { TRANSFORM_NAMES, type TransformName } from './transforms.js';
export type {
  FieldRule,
  Mapping,
  MappingDefinition,
  NormaliseBatchResult,
  NormaliseCallOptions,
  NormaliseResult,
  Normaliser,
  NormaliserOptions,
} from './types.js';
