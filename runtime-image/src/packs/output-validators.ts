// The JSON Schema validators of the runtime's pack clients. A client checks every tool result's
// structured content against the output schema of the definition the runtime judged approved
// (pack-host.ts, handed to each call), compiled before the call is sent (so that a tool whose
// schema does not compile is refused before it is called). Before the runtime read a pack's pages
// itself, the client compiled every listed tool's on its first call; with the SDK's own Ajv
// provider, the records tools' took about 30 ms of a new runtime's first call: an Ajv compile
// generates code, which the image's V8 code cache cannot hold. This provider hands out, for a
// schema equal to one the reference pack lists, the validator the image build compiled (reference-validators.ts, beside the
// bundle as reference-validators.cjs), and compiles any other schema with the SDK's provider as
// before. Either way the same checks run, with the same options. Schemas are compared by their
// canonical JSON (keys sorted): the client's parse of a listing puts some keys in another order.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { JsonSchemaType, JsonSchemaValidator, jsonSchemaValidator } from '@modelcontextprotocol/client';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import { canonicalJson } from '../../../kernel/tools/tool-definition.ts';

/** An Ajv validate function, as Ajv's standalone code exports it. */
interface CompiledValidate {
  (input: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}

interface PrecompiledModule {
  /** Export name -> the canonical JSON of the schema that validator was compiled from. */
  schemas: Record<string, string>;
  [name: string]: CompiledValidate | Record<string, string>;
}

/** Where the image build puts the precompiled validators: beside the runtime's bundle. */
const PRECOMPILED_FILE = 'reference-validators.cjs';

/**
 * The precompiled validators by the schema's canonical JSON; none when the file is not there (the runtime run
 * from its sources, in tests). A file that is there but does not load fails the runtime's start.
 */
export function loadPrecompiled(
  url: URL = new URL(PRECOMPILED_FILE, import.meta.url),
): Map<string, CompiledValidate> {
  let module: PrecompiledModule;
  try {
    module = createRequire(import.meta.url)(fileURLToPath(url)) as PrecompiledModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return new Map();
    throw error;
  }
  return new Map(
    Object.entries(module.schemas).map(([name, text]) => [text, module[name] as CompiledValidate]),
  );
}

/** Ajv's errorsText with its defaults (the SDK provider's error message). */
function errorsText(errors: CompiledValidate['errors']): string {
  if (!errors || errors.length === 0) return 'No errors';
  return errors.map((error) => `data${error.instancePath} ${error.message ?? ''}`).join(', ');
}

function asValidator<T>(validate: CompiledValidate): JsonSchemaValidator<T> {
  return (input) =>
    validate(input)
      ? { valid: true, data: input as T, errorMessage: undefined }
      : { valid: false, data: undefined, errorMessage: errorsText(validate.errors) };
}

/**
 * Compiled validators kept, at most. A pack's listing bounds what it asks for; the bound keeps a pack
 * that lists new schemas on every restart from growing the map (past it, compiled and not kept).
 */
const MAX_KEPT = 256;

export class OutputValidators implements jsonSchemaValidator {
  readonly #ajv = new AjvJsonSchemaValidator();
  /** Loaded on the first schema asked for, not at the runtime's start. */
  #precompiled: Map<string, CompiledValidate> | undefined;
  readonly #load: () => Map<string, CompiledValidate>;
  readonly #kept = new Map<string, JsonSchemaValidator<unknown>>();

  constructor(options: { precompiled?: () => Map<string, CompiledValidate> } = {}) {
    this.#load = options.precompiled ?? (() => loadPrecompiled());
  }

  getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
    const key = canonicalJson(schema);
    let validator = this.#kept.get(key);
    if (!validator) {
      this.#precompiled ??= this.#load();
      const precompiled = this.#precompiled.get(key);
      // A schema that does not compile throws here, to the client, as it would without this class.
      validator = precompiled ? asValidator<unknown>(precompiled) : this.#ajv.getValidator<unknown>(schema);
      if (this.#kept.size < MAX_KEPT) this.#kept.set(key, validator);
    }
    return validator as JsonSchemaValidator<T>;
  }

  /** How many validators are kept (for tests). */
  get size(): number {
    return this.#kept.size;
  }
}
