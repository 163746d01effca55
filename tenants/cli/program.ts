// The CLI program shared by the operator entry (tenants/cli/main.ts) and the development entry
// (dev/cli/main.ts): help, dispatch to a command, exit codes.
import { ZodError, z } from 'zod';
import { BulkheadError, exitCodeOf, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
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
  const lines = Object.entries(commands).map(([name, cmd]) => `  ${name.padEnd(10)} ${cmd.summary}`);
  return `${cliConfig.usage()}\n\nCommands:\n${lines.join('\n')}\n\nRun "bulkhead <command> --help" for a command's options.`;
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
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${help(commands)}`);
    return exitCodeOf(new BulkheadError('usage', `unknown command "${name}"`));
  }
  if (args.includes('--help') || args.includes('-h')) {
    const sub = args[0] === undefined ? undefined : command.subcommands?.[args[0]];
    const described = sub ?? command;
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
        ? new BulkheadError('invalid_input', z.prettifyError(thrown), { cause: thrown })
        : thrown;
    // A refusal may quote what a pack wrote (its stderr in a failed approval): printed safely.
    const message = terminalText((error as Error).message, { newlines: true });
    console.error(
      isBulkheadError(error, 'usage') ? `error: ${message}\nusage: ${command.usage}` : `error: ${message}`,
    );
    return exitCodeOf(error);
  }
}
