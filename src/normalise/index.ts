/**
 * Normalisation: any JSON event into STIX 2.1 observed-data and SCOs. See docs/normalisation.md.
 */
export { loadMapping, mappingSchema } from './loader.js';
export { builtInMappings, builtInMappingTexts, setBuiltInMappingTexts, BUILT_IN_MAPPING_FILES } from './builtin.js';
export { createNormaliser, toBundle, unknownSourceMessage } from './normaliser.js';
export type { TransformName } from './transforms.js';
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
