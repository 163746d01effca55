// One declaration per process of everything it can be configured with: each field's schema (with
// its one default), the environment variable that sets it (if any) and one line of documentation.
// From it come the process's parsed environment, its options with defaults filled in (what tests
// and embedders pass partially), its `--help` text and its section of docs/configuration.md, so no
// default is written twice and no help text drifts from the code.
import type { z } from 'zod';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { issueLines, OPERATOR_INPUT } from '../errors/input-issues.ts';
import { timerBoundText, timerMaxIn, timerOverflow, type TimerUnit } from './timer-bound.ts';

export interface ConfigField<S extends z.ZodType = z.ZodType> {
  /** The environment variable that sets it; option-only knobs (tests, embedders) have none. */
  env?: string;
  /** Parses the value (a string from the environment, or a typed option) and holds the default. */
  schema: S;
  /** One line for `--help` and the configuration reference. */
  doc: string;
  /** How the default reads when it is computed rather than written (e.g. "the issuer's /jwks"). */
  defaultText?: string;
  /**
   * The unit of a setting that some timer waits out (directly, or after arithmetic such as seconds
   * * 1000): a value longer than a Node timer can wait is refused (timer-bound.ts).
   */
  timer?: TimerUnit;
}

export type ConfigFields = Record<string, ConfigField>;
export type ConfigOf<F extends ConfigFields> = { [K in keyof F]: z.output<F[K]['schema']> };

export interface ProcessConfig<F extends ConfigFields> {
  readonly title: string;
  readonly fields: F;
  /** The configuration from environment variables; fields without a variable take their default. */
  fromEnv(env: Record<string, string | undefined>): ConfigOf<F>;
  /** Options given in code, checked, with every missing one at its default. */
  resolve(options: Partial<ConfigOf<F>>): ConfigOf<F>;
  /** `--help`: the usage line, what the process does, and every variable with its default. */
  usage(): string;
  /** This process's section of docs/configuration.md. */
  markdown(): string;
}

/** The default a schema holds, looking through optional/pipe wrappers; undefined when none. */
export function defaultOf(schema: z.ZodType): unknown {
  let current: z.ZodType | undefined = schema;
  for (let depth = 0; current && depth < 8; depth++) {
    const def = current.def as {
      type: string;
      defaultValue?: unknown;
      in?: z.ZodType;
      innerType?: z.ZodType;
    };
    if (def.type === 'default') return def.defaultValue;
    current = def.type === 'pipe' ? def.in : def.innerType;
  }
  return undefined;
}

/** What --help and the reference say of a default; undefined (nothing said) for an empty one. */
function defaultText(field: ConfigField): string | undefined {
  if (field.defaultText !== undefined) return field.defaultText === '' ? undefined : field.defaultText;
  const value = defaultOf(field.schema);
  if (value === undefined || value === '') return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The timer's bound, said where the field's own schema would accept more; '' otherwise. */
function timerBound(field: ConfigField): string {
  if (field.timer === undefined) return '';
  const beyond = field.schema.safeParse(timerMaxIn(field.timer) + 1).success;
  return beyond ? `; ${timerBoundText(field.timer)}` : '';
}

function required(field: ConfigField): boolean {
  return !field.schema.safeParse(undefined).success;
}

function parseFields<F extends ConfigFields>(
  title: string,
  fields: F,
  valueOf: (key: string, field: ConfigField) => unknown,
): ConfigOf<F> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, field] of Object.entries(fields)) {
    const parsed = field.schema.safeParse(valueOf(key, field), OPERATOR_INPUT);
    const overflow = parsed.success && field.timer ? timerOverflow(parsed.data, field.timer) : undefined;
    if (overflow) problems.push(`${field.env ?? key}: ${overflow}`);
    else if (parsed.success) out[key] = parsed.data;
    else problems.push(...issueLines(parsed.error, [field.env ?? key]));
  }
  if (problems.length > 0) {
    throw new BulkheadError(
      'invalid_config',
      `invalid configuration of ${title}:\n  ${problems.join('\n  ')}`,
    );
  }
  return out as ConfigOf<F>;
}

export function defineConfig<F extends ConfigFields>(
  spec: {
    title: string;
    /** The command line, for --help; none for a group of shared fields. */ usage?: string;
    summary: string;
  },
  fields: F,
): ProcessConfig<F> {
  const envFields = Object.values(fields).filter(
    (f): f is ConfigField & { env: string } => f.env !== undefined,
  );
  return {
    title: spec.title,
    fields,
    fromEnv: (env) =>
      parseFields(spec.title, fields, (_key, field) => (field.env ? env[field.env] : undefined)),
    resolve: (options) => parseFields(spec.title, fields, (key) => (options as Record<string, unknown>)[key]),
    usage() {
      const width = Math.max(...envFields.map((f) => f.env.length)) + 2;
      const lines = envFields.map((f) => {
        const fallback = required(f) ? ' (required)' : defaultText(f) ? ` (default ${defaultText(f)})` : '';
        return `  ${f.env.padEnd(width)}${f.doc}${timerBound(f)}${fallback}`;
      });
      return `Usage: ${spec.usage ?? spec.title}\n\n${spec.summary}\nEnvironment:\n${lines.join('\n')}`;
    },
    markdown() {
      const rows = envFields.map((f) => {
        const text = defaultText(f);
        const fallback = required(f) ? ' (required)' : text === undefined ? '' : ` (default \`${text}\`)`;
        return `- \`${f.env}\`${fallback}: ${f.doc}${timerBound(f)}`;
      });
      const run = spec.usage === undefined ? '' : ` Run as \`${spec.usage}\`.`;
      return `## ${spec.title}\n\n${spec.summary}${run}\n\n${rows.join('\n')}\n`;
    },
  };
}
