// The Bulkhead operator CLI: `node tenants/cli/main.ts <command>` (or `npm run bulkhead -- <command>`).
import { ZodError, z } from 'zod';
import { keygen, list, offboard, onboard, type Command } from './commands.ts';
import { UsageError } from './cli-context.ts';
import { token } from './token-command.ts';
import { up } from './up-command.ts';
import { history, resume, secret, show, suspend, update, verify } from './lifecycle-commands.ts';
import { apply, exportCommand } from './gitops-commands.ts';

const COMMANDS: Record<string, Command> = {
  up,
  onboard,
  list,
  show,
  update,
  suspend,
  resume,
  verify,
  history,
  secret,
  export: exportCommand,
  apply,
  offboard,
  token,
  keygen,
};

/** Exit codes: 2 bad input, 3 tenant exists / not found, 4 conflict (changed concurrently). */
const EXIT_CODES: Record<string, number> = {
  invalid_input: 2,
  invalid_spec: 2,
  tenant_exists: 3,
  tenant_not_found: 3,
  conflict: 4,
};

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, cmd]) => `  ${name.padEnd(10)} ${cmd.summary}`);
  return `Usage: bulkhead <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "bulkhead <command> --help" for a command's options.
Environment: BULKHEAD_REDIS_URL (default redis://127.0.0.1:6379), BULKHEAD_NAMESPACE (default "default").`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${help()}`);
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

process.exitCode = await main(process.argv.slice(2));
