// The development CLI's commands (dev/cli/main.ts): every operator command, plus `up` (the
// development stack), `token` (an agent's access token from the development IdP), `console-client`
// (a console's client at that IdP) and `verify --router` with such tokens.
import type { Command } from '../../tenants/cli/command-kit.ts';
import { operatorCommands } from '../../tenants/cli/program.ts';
import { consoleClient } from './console-client-command.ts';
import { devRouterProbe } from './dev-router-probe.ts';
import { token } from './token-command.ts';
import { up } from './up-command.ts';

/** In help order: `up` first, the development IdP's commands last. */
export function devCommands(): Record<string, Command> {
  const operator = operatorCommands({ routerProbe: devRouterProbe });
  return { up, ...operator, token, 'console-client': consoleClient };
}
