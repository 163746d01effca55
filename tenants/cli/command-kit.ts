// What every operator command shares: the command shape, strict argument parsing, progress lines
// and the confirmation step of destructive commands.
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import {
  IsolationTierSchema,
  PLANS,
  type IsolationTier,
  type PlanName,
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

export function parse<T extends Options>(
  args: string[],
  options: T,
  { positionals = true }: { positionals?: boolean } = {},
) {
  try {
    return parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function oneId(positionals: string[], command: string): string {
  const [id] = positionals;
  if (!id || positionals.length > 1) throw new UsageError(`${command} takes exactly one tenant id`);
  return id;
}

export function planOption(value: string): PlanName {
  if (!Object.hasOwn(PLANS, value))
    throw new UsageError(`unknown plan "${value}": choose one of ${Object.keys(PLANS).join(', ')}`);
  return value as PlanName;
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
