// Run by runtime-image/build.sh, never in a container: writes the output validators of the reference
// pack's tools as compiled code (Ajv's standalone code), so that a runtime checks the records tools'
// answers without compiling a validator at run time (output-validators.ts). A compile is Ajv
// generating code and V8 compiling it, about 30 ms of a new runtime's CPU for these schemas; as
// code in the image it is compiled like the rest of it. The schemas are the ones the pack lists
// (RECORDS_WIRE), each kept under its canonical JSON (keys sorted): a runtime uses a precompiled
// validator only for a schema equal to that one, and compiles any other as before.
// build.sh bundles reference-validators-cli.ts (which writes this module's source to a file), runs
// it, and bundles its output (it requires Ajv's runtime helpers) beside the runtime.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import standaloneCodeModule from 'ajv/dist/standalone/index.js';
import { canonicalJson } from '../../../kernel/tools/tool-definition.ts';
import { RECORDS_WIRE } from '../records-pack/records-calls.ts';

// CommonJS modules' default exports: Node's ESM loader hands over module.exports (the function,
// which also has it as .default), esbuild's bundle the .default itself.
const cjsDefault = <T>(module: { default: T }): T => module.default ?? (module as unknown as T);
const addFormats = cjsDefault(addFormatsModule);
const standaloneCode = cjsDefault(standaloneCodeModule);

/**
 * The options the SDK's Ajv provider compiles with (its createDefaultAjvInstance), and code kept as
 * source: the same checks and the same error list as a validator compiled at run time.
 */
export const REFERENCE_AJV_OPTIONS = {
  strict: false,
  validateFormats: true,
  validateSchema: false,
  allErrors: true,
} as const;

/** The distinct output schemas the reference pack lists, by the name their validator is exported as. */
export function referenceSchemas(): Map<string, object> {
  const byText = new Map<string, object>();
  for (const tool of RECORDS_WIRE) byText.set(canonicalJson(tool.outputSchema), tool.outputSchema);
  return new Map([...byText.values()].map((schema, i) => [`v${i}`, schema]));
}

/** The module's source: `exports.v<i>` validators, and `exports.schemas`, each one's canonical JSON. */
export function referenceValidatorsSource(): string {
  const ajv = new Ajv2020({ ...REFERENCE_AJV_OPTIONS, code: { source: true } });
  addFormats(ajv);
  const schemas = referenceSchemas();
  for (const [name, schema] of schemas) ajv.addSchema(schema, name);
  const code = standaloneCode(ajv, Object.fromEntries([...schemas.keys()].map((name) => [name, name])));
  const texts = Object.fromEntries([...schemas].map(([name, schema]) => [name, canonicalJson(schema)]));
  return `${code}\nexports.schemas = ${JSON.stringify(texts)};\n`;
}
