// `bulkhead token`: an access token from the development IdP through a real OAuth grant, never a
// hand-signed JWT. For a tenant's agent acting alone: the client-credentials grant (the agent is
// registered once through Dynamic Client Registration). For a tenant user (`--user alice`): the
// authorization code flow with PKCE (S256) through the IdP's development login pages, so the token
// carries the user (`sub`), the tenant and the user's roles as the IdP knows them. Prints only the
// access token.
import { mintClientCredentialsToken, registerAgentClient } from '../idp/dev-client.ts';
import { authorizeUser, registerUserClient } from '../idp/dev-user-login.ts';
import { fetchAdvertisedScopes } from '../idp/advertised-scopes.ts';
import { parse, tenantIdOption, UsageError, type Command } from '../../tenants/cli/command-kit.ts';
import { cliSettings } from '../../tenants/cli/config.ts';
import { readDevStack, writeDevStack, type DevStack } from './dev-stack-state.ts';

/** Never contacted: the scripted login stops as soon as the IdP redirects here with the code. */
const CLI_REDIRECT_URI = 'http://127.0.0.1:1/bulkhead-cli/callback';

/**
 * An agent's token; `scope` defaults to every scope the router advertises (its built-in ones and
 * every approved pack tool's). The agent is registered for the advertised scopes, and registered
 * again once the router advertises one it was not registered for (a pack approved since).
 */
export async function agentToken(
  devDir: string,
  stack: DevStack,
  tenant: string,
  scope?: string,
): Promise<string> {
  const advertised = await fetchAdvertisedScopes(stack.resourceUrl);
  let agent = stack.agents[tenant];
  if (!agent || advertised.some((s) => !agent?.scopes.includes(s))) {
    const registered = await registerAgentClient({
      issuer: stack.issuer,
      initialAccessToken: stack.initialAccessToken,
      tenant,
      scopes: advertised,
      clientName: `${tenant} demo agent`,
    });
    agent = { ...registered, scopes: advertised };
    stack.agents[tenant] = agent;
    await writeDevStack(devDir, stack);
  }
  return mintClientCredentialsToken({
    issuer: stack.issuer,
    clientId: agent.clientId,
    clientSecret: agent.clientSecret,
    resource: stack.resourceUrl,
    scope: scope ?? advertised.join(' '),
  });
}

export async function userToken(
  devDir: string,
  stack: DevStack,
  options: { user: string; tenant?: string; scope?: string },
): Promise<string> {
  const account = stack.users.find((u) => u.id === options.user);
  if (!account) {
    const known = stack.users.map((u) => `${u.id} (${u.tenant}: ${u.roles.join(', ')})`).join('; ');
    throw new UsageError(
      `the development IdP has no user "${options.user}"; known: ${known || 'none'} (bulkhead up --users)`,
    );
  }
  const tenant = options.tenant ?? account.tenant;
  if (tenant !== account.tenant)
    throw new UsageError(`user "${account.id}" belongs to tenant "${account.tenant}"`);
  let app = stack.apps[tenant];
  if (!app) {
    // A public client bound to the tenant: the IdP refuses to sign a user of another tenant in here.
    app = await registerUserClient({
      issuer: stack.issuer,
      initialAccessToken: stack.initialAccessToken,
      clientName: `${tenant} CLI`,
      redirectUris: [CLI_REDIRECT_URI],
      tenant,
    });
    stack.apps[tenant] = app;
    await writeDevStack(devDir, stack);
  }
  const tokens = await authorizeUser({
    issuer: stack.issuer,
    clientId: app.clientId,
    redirectUri: CLI_REDIRECT_URI,
    resource: stack.resourceUrl,
    scope: options.scope ?? (await fetchAdvertisedScopes(stack.resourceUrl)).join(' '),
    login: account.id,
  });
  return tokens.accessToken;
}

export const token: Command = {
  summary: "mint an access token for a tenant's agent, or for a tenant user, from the development IdP",
  usage:
    'bulkhead token --tenant <tenant-id> [--scope "records:read records:write"]   (default: every scope the router advertises)\n' +
    '       bulkhead token --user <user-id> [--tenant <tenant-id>] [--scope "…"]   (authorization code + PKCE)',
  async run(args) {
    const { values } = parse(
      args,
      {
        tenant: { type: 'string' },
        user: { type: 'string' },
        scope: { type: 'string' },
      },
      { positionals: false },
    );
    // What is asked for is checked before the stack is looked for: a wrong command line says so.
    if (!values.tenant && !values.user)
      throw new UsageError('token needs --tenant (an agent token) or --user (a user token)');
    const tenant = values.tenant === undefined ? undefined : tenantIdOption(values.tenant, '--tenant');
    const { devDir } = cliSettings();
    const stack = await readDevStack(devDir);
    if (values.user) {
      console.log(
        await userToken(devDir, stack, {
          user: values.user,
          ...(values.scope === undefined ? {} : { scope: values.scope }),
          ...(tenant ? { tenant } : {}),
        }),
      );
      return;
    }
    console.log(await agentToken(devDir, stack, tenant!, values.scope));
  },
};
