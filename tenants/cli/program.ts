// The CLI program shared by the operator entry (tenants/cli/main.ts) and the development entry
// (dev/cli/main.ts): help, dispatch to a command, exit codes.
import { ZodError } from 'zod';
import { BulkheadError, exitCodeOf, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { issueLines } from '../../kernel/errors/input-issues.ts';
import type { RouterProbeSource } from '../control-plane/verify.ts';
import { audit } from './audit-commands.ts';
import { keygen, list, offboard, onboard } from './commands.ts';
import type { Command } from './command-kit.ts';
import { cliConfig } from './config.ts';
import { apply, exportCommand } from './gitops-commands.ts';
import { pack } from './pack-commands.ts';
import { terminalText } from './terminal-text.ts';
import { quota, upstream } from './quota-commands.ts';
import { history, resume, secret, show, suspend, update, verifyCommand } from './lifecycle-commands.ts';

/** The operator commands, in help order; `dev` adds the development ones around them. */
export function operatorCommands(options: { routerProbe?: RouterProbeSource } = {}): Record<string, Command> {
  return {
    onboard,
    list,
    show,
    update,
    suspend,
    resume,
    verify: verifyCommand(options),
    history,
    quota,
    upstream,
    secret,
    export: exportCommand,
    apply,
    pack,
    offboard,
    audit,
    keygen,
  };
}

/** The usage line, what the CLI does and its environment (from cliConfig), then the commands. */
function help(commands: Record<string, Command>): string {
  // Every summary in one column, however long a name (`console-client`).
  const width = Math.max(10, ...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, cmd]) => `  ${name.padEnd(width)} ${cmd.summary}`);
  return `${cliConfig.usage()}\n\nCommands:\n${lines.join('\n')}\n\nRun "bulkhead <command> --help" for a command's options.`;
}

/** The name a typo most likely meant: at most two letters added, dropped, changed or swapped. */
function nearest(typed: string, names: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(typed, name);
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Optimal string alignment distance (Levenshtein with transpositions of neighbours). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(d[i - 1]![j]! + 1, row[j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/**
 * Runs one command; the exit code: 0, 1 when a command found a failure (e.g. verify) or failed
 * otherwise, and for Bulkhead errors their code's exit code (kernel/errors/error-codes.ts: 2 bad
 * input, 3 tenant exists / not found, 4 changed concurrently).
 */
export async function runProgram(commands: Record<string, Command>, argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help(commands));
    return 0;
  }
  // Only the commands themselves: "constructor" or "toString" is no command either.
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    const near = nearest(name, Object.keys(commands));
    const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
    console.error(`error: unknown command "${name}"${hint}\n\n${help(commands)}`);
    return exitCodeOf(new BulkheadError('usage', `unknown command "${name}"`));
  }
  // A subcommand's help and usage errors name its own usage (`pack build`), else the command's.
  const sub = args[0];
  const described =
    sub !== undefined && command.subcommands && Object.hasOwn(command.subcommands, sub)
      ? command.subcommands[sub]!
      : command;
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`Usage: ${described.usage}\n\n${described.summary}`);
    return 0;
  }
  try {
    await command.run(args);
    // A command that ran but found a failure (e.g. verify) sets process.exitCode itself.
    return Number(process.exitCode ?? 0);
  } catch (thrown) {
    // Schema violations of a request (an invalid tenant id) are bad input like any other.
    const error =
      thrown instanceof ZodError
        ? new BulkheadError('invalid_input', `invalid input:\n  ${issueLines(thrown).join('\n  ')}`, {
            cause: thrown,
          })
        : thrown;
    // A refusal may quote what a pack wrote (its stderr in a failed approval): printed safely.
    const message = terminalText((error as Error).message, { newlines: true });
    console.error(
      isBulkheadError(error, 'usage') ? `error: ${message}\nusage: ${described.usage}` : `error: ${message}`,
    );
    return exitCodeOf(error);
  }
}
