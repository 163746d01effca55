// The development CLI: every operator command, plus `up` (the development stack), `token` (an
// agent's access token from the development IdP), `console-client` (a console's client at that IdP)
// and `verify --router` with such tokens.
// `node dev/cli/main.ts <command>` (or `npm run dev -- <command>`). No production image contains it.
import { operatorCommands, runProgram } from '../../tenants/cli/program.ts';
import { consoleClient } from './console-client-command.ts';
import { devRouterProbe } from './dev-router-probe.ts';
import { token } from './token-command.ts';
import { up } from './up-command.ts';

const operator = operatorCommands({ routerProbe: devRouterProbe });
process.exitCode = await runProgram(
  { up, ...operator, token, 'console-client': consoleClient },
  process.argv.slice(2),
);
