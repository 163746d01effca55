// `bulkhead token`: a real OAuth client-credentials grant against the development IdP for a tenant's
// agent (registered once through Dynamic Client Registration). Prints only the access token.
import { parseArgs } from 'node:util';
import { mintClientCredentialsToken, registerAgentClient } from '../../router/dev-idp/dev-client.ts';
import { TenantIdSchema } from '../contracts/tenant-spec.ts';
import { ALL_SCOPES } from '../contracts/tool-manifest.ts';
import { cliEnv, UsageError } from './cli-context.ts';
import type { Command } from './commands.ts';
import { readDevStack, writeDevStack, type DevStack } from './dev-stack-state.ts';

export async function agentToken(
  devDir: string,
  stack: DevStack,
  tenant: string,
  scope: string,
): Promise<string> {
  let agent = stack.agents[tenant];
  if (!agent) {
    agent = await registerAgentClient({
      issuer: stack.issuer,
      initialAccessToken: stack.initialAccessToken,
      tenant,
      scopes: [...ALL_SCOPES],
      clientName: `${tenant} demo agent`,
    });
    stack.agents[tenant] = agent;
    await writeDevStack(devDir, stack);
  }
  return mintClientCredentialsToken({ issuer: stack.issuer, ...agent, resource: stack.resourceUrl, scope });
}

export const token: Command = {
  summary: "mint an access token for a tenant's agent from the development IdP",
  usage: 'bulkhead token --tenant <tenant-id> [--scope "records:read records:write"]',
  async run(args) {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: { tenant: { type: 'string' }, scope: { type: 'string', default: ALL_SCOPES.join(' ') } },
        strict: true,
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (!parsed.values.tenant) throw new UsageError('token needs --tenant');
    const tenant = TenantIdSchema.parse(parsed.values.tenant);
    const devDir = cliEnv().BULKHEAD_DEV_DIR;
    console.log(await agentToken(devDir, await readDevStack(devDir), tenant, parsed.values.scope));
  },
};
