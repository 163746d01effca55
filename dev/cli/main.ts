// The development CLI: every operator command plus the development ones (dev/cli/dev-commands.ts).
// `node dev/cli/main.ts <command>` (or `npm run dev -- <command>`). No production image contains it.
import { runProgram } from '../../tenants/cli/program.ts';
import { devCommands } from './dev-commands.ts';

process.exitCode = await runProgram(devCommands(), process.argv.slice(2));
