// The Bulkhead operator CLI: `node tenants/cli/main.ts <command>` (or `npm run bulkhead -- <command>`).
// The development CLI (dev/cli/main.ts) runs the same program with its own commands added.
import { operatorCommands, runProgram } from './program.ts';

process.exitCode = await runProgram(operatorCommands(), process.argv.slice(2));
