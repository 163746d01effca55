// What every operator command shares: the command shape, strict argument parsing, progress lines
// and the confirmation step of destructive commands.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import {
  IssuerBindingSchema,
  IsolationTierSchema,
  PLANS,
  TenantIdSchema,
  type IsolationTier,
  type PlanName,
  type TenantId,
} from '../../kernel/tenant/tenant-spec.ts';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<void>;
  /** A command of subcommands (`pack build`): `<command> <sub> --help` answers with the sub's usage. */
  subcommands?: Record<string, Command>;
}

/** The command line itself is wrong: the program prints the message and the command's usage. */
export class UsageError extends BulkheadError<'usage'> {
  constructor(message: string) {
    super('usage', message);
  }
}

export const progress = (message: string): void => console.log(`  … ${message}`);

export interface CountProgressOptions {
  /** What is counted, in a line: `verified 12 of 60 segments`. */
  verb: string;
  noun: string;
  write: (line: string) => void;
  /** At most one line per this many ms (the last count is always written once any line was). */
  intervalMs?: number;
  now?: () => number;
}

/**
 * Progress of a count towards a total for work that can take long (a whole audit trail), written
 * at most once a second: short work prints nothing, long work a line now and then and its end.
 */
export function countProgress(options: CountProgressOptions): (done: number, total: number) => void {
  const { verb, noun, write } = options;
  const intervalMs = options.intervalMs ?? 1_000;
  const now = options.now ?? Date.now;
  const started = now();
  let last: number | undefined;
  return (done, total) => {
    const at = now();
    // The first line only after a whole interval; after it, the end even within one.
    const due = at - (last ?? started) >= intervalMs || (last !== undefined && done === total);
    if (!due) return;
    last = at;
    write(`  … ${verb} ${done} of ${total} ${noun}\n`);
  };
}

type Options = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; multiple?: boolean; default?: string | boolean | string[] }
>;

/**
 * Parses a command line strictly: an option the command does not take, one without its value, a
 * value for a switch, or an option given twice (parseArgs would keep the last one silently) is a
 * usage error, in words that name the option.
 */
export function parse<T extends Options>(
  args: string[],
  options: T,
  { positionals = true }: { positionals?: boolean } = {},
) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: positionals, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error as Error & { code?: string }));
  }
  const { tokens, ...result } = parsed;
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || options[token.name]?.multiple) continue;
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`);
    seen.add(token.name);
  }
  return result;
}

/** parseArgs' refusal, said shortly: its own words suggest "--" tricks an operator does not need. */
function parseArgsMessage(error: Error & { code?: string }): string {
  const option = /^Option '(?:-\w, )?(-[^' ]+)|^Unknown option '([^']+)'/.exec(error.message);
  const name = option?.[1] ?? option?.[2];
  if (name === undefined) return error.message;
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${name}`;
  if (error.message.includes('argument missing')) return `${name} needs a value`;
  if (error.message.includes('ambiguous'))
    return `${name} needs a value (one that starts with "-" is written ${name}=VALUE)`;
  if (error.message.includes('does not take an argument')) return `${name} takes no value`;
  return error.message;
}

/** A tenant id as the registry takes it, refused before anything is read (`flag`: where it came from). */
export function tenantIdOption(value: string, flag?: string): TenantId {
  const id = TenantIdSchema.safeParse(value);
  if (!id.success)
    throw new UsageError(
      `${flag === undefined ? JSON.stringify(value) : `${flag} ${value}`}: ${id.error.issues[0]?.message ?? 'not a tenant id'}`,
    );
  return id.data;
}

export function oneId(positionals: string[], command: string): TenantId {
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new UsageError(`${command} takes exactly one tenant id`);
  return tenantIdOption(id);
}

/**
 * The `run` of a command of subcommands (`pack build`): the subcommand named first gets the rest.
 * Only the command's own subcommands: a name like "constructor" is no subcommand either.
 */
export function runSubcommand(command: string, subcommands: Record<string, Command>): Command['run'] {
  return async ([sub, ...rest]) => {
    const names = Object.keys(subcommands).join(', ');
    if (sub === undefined) throw new UsageError(`${command} needs one of: ${names}`);
    if (!Object.hasOwn(subcommands, sub))
      throw new UsageError(`unknown subcommand "${command} ${sub}": use one of ${names}`);
    await subcommands[sub]!.run(rest);
  };
}

export function planOption(value: string): PlanName {
  if (!Object.hasOwn(PLANS, value))
    throw new UsageError(`unknown plan "${value}": choose one of ${Object.keys(PLANS).join(', ')}`);
  return value as PlanName;
}

/** `--issuer URL`, by the rule the tenant record holds it to, refused before anything is read. */
export function issuerOption(value: string): string {
  if (!IssuerBindingSchema.shape.issuer.safeParse(value).success)
    throw new UsageError(`--issuer ${value} is not a URL (the issuer, as its tokens name it in "iss")`);
  return value;
}

export function isolationOption(value: string): IsolationTier {
  const tier = IsolationTierSchema.safeParse(value);
  if (!tier.success) throw new UsageError(`unknown isolation "${value}": use runc or gvisor`);
  return tier.data;
}

/**
 * Destructive commands need `--yes`, or an operator at a terminal who types the tenant id back.
 * Without a terminal and without `--yes` nothing happens.
 */
export async function confirm(options: { yes: boolean; id: string; what: string }): Promise<void> {
  if (options.yes) return;
  if (!process.stdin.isTTY) throw new UsageError(`${options.what}: confirm with --yes`);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${options.what}. Type the tenant id "${options.id}" to confirm: `);
    if (answer.trim() !== options.id) throw new UsageError('not confirmed: nothing was changed');
  } finally {
    rl.close();
  }
}
