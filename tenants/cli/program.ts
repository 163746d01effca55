// The CLI program shared by the operator entry (tenants/cli/main.ts) and the development entry
// (dev/cli/main.ts): help, dispatch to a command, exit codes.
import { ZodError, z } from 'zod';
import { keygen, list, offboard, onboard, type Command } from './commands.ts';
import { UsageError } from './cli-context.ts';
import {
  history,
  resume,
  secret,
  show,
  suspend,
  update,
  verifyCommand,
  type RouterProbeSource,
} from './lifecycle-commands.ts';
import { apply, exportCommand } from './gitops-commands.ts';

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
    secret,
    export: exportCommand,
    apply,
    offboard,
    keygen,
  };
}

/** Exit codes: 2 bad input, 3 tenant exists / not found, 4 conflict (changed concurrently). */
const EXIT_CODES: Record<string, number> = {
  invalid_input: 2,
  invalid_spec: 2,
  tenant_exists: 3,
  tenant_not_found: 3,
  generation_conflict: 4,
};

function help(commands: Record<string, Command>): string {
  const lines = Object.entries(commands).map(([name, cmd]) => `  ${name.padEnd(10)} ${cmd.summary}`);
  return `Usage: bulkhead <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "bulkhead <command> --help" for a command's options.
Environment: BULKHEAD_REDIS_URL (default redis://127.0.0.1:6379), BULKHEAD_NAMESPACE (default "default").`;
}

export async function runProgram(commands: Record<string, Command>, argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help(commands));
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${help(commands)}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`Usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    await command.run(args);
    // A command that ran but found a failure (e.g. verify) sets process.exitCode itself.
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\nusage: ${command.usage}`);
      return 2;
    }
    if (error instanceof ZodError) {
      console.error(`error: ${z.prettifyError(error)}`);
      return 2;
    }
    const code = (error as { code?: unknown }).code;
    console.error(`error: ${(error as Error).message}`);
    return (typeof code === 'string' ? EXIT_CODES[code] : undefined) ?? 1;
  }
}
