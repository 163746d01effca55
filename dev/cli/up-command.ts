// `bulkhead up`: the one-command development stack. Starts the embedded IdP, the supervisor, the
// egress gateway and the router as separate processes (only the supervisor gets Docker access), onboards a demo tenant, and
// prints the /mcp URL, how to get a token and a client configuration to paste.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { ensureAuditKeys } from '../../tenants/control-plane/audit-segments.ts';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { ChildGroup, tail, waitForHttp } from './child-processes.ts';
import { withContext } from '../../tenants/cli/cli-context.ts';
import { parse, tenantIdOption, UsageError, type Command } from '../../tenants/cli/command-kit.ts';
import { cliSettings } from '../../tenants/cli/config.ts';
import { writeDevStack, type DevStack } from './dev-stack-state.ts';
import { onboardTenant } from '../../tenants/control-plane/onboard.ts';
import { agentToken, userToken } from './token-command.ts';
import { tokenLifetimeText } from './token-lifetime.ts';
import { assertPortsFree, freeLoopbackPort, parseConsoleUsers, startDevConsole } from './dev-console.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const step = (message: string): void => console.log(`[up] ${message}`);

/** What the demo opens to its agent acting alone: the records tools except deleting. */
const DEMO_AGENT_TOOLS = ['records_create', 'records_get', 'records_list', 'records_update'];

/** `alice=editor,bob=viewer+admin` -> accounts of the demo tenant with those roles. */
function parseUsers(value: string, tenant: string): { id: string; tenant: string; roles: string[] }[] {
  return value
    .split(',')
    .filter(Boolean)
    .map((entry) => {
      const [id, roles = ''] = entry.split('=');
      if (!id || !roles) throw new UsageError(`--users entry "${entry}" is not user=role[+role]`);
      return { id: id.trim(), tenant, roles: roles.split('+').map((r) => r.trim()) };
    });
}

async function connectClient(mcpUrl: string, accessToken: string): Promise<Client> {
  const client = new Client({ name: 'bulkhead-up-smoke', version: '0.1.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: { token: () => Promise.resolve(accessToken) },
    }),
  );
  return client;
}

/** The agent's path (client credentials), then a user's (authorization code + PKCE, scripted login). */
async function smokeTest(mcpUrl: string, accessToken: string, userAccessToken?: string): Promise<void> {
  if (userAccessToken) {
    const asUser = await connectClient(mcpUrl, userAccessToken);
    const who = await asUser.callTool({ name: 'whoami', arguments: {} });
    step(`smoke: whoami as a user -> ${JSON.stringify(who.structuredContent)}`);
    await asUser.close();
  }
  const client = await connectClient(mcpUrl, accessToken);
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  step(`smoke: whoami -> ${JSON.stringify(who.structuredContent)}`);
  const created = await client.callTool({
    name: 'records_create',
    arguments: { title: 'hello from bulkhead up', idempotency_key: `smoke-${randomUUID()}` },
  });
  if (created.isError) throw new Error(`records_create failed: ${JSON.stringify(created.structuredContent)}`);
  step(`smoke: records_create -> ${JSON.stringify(created.structuredContent)}`);
  await client.close();
}

export const up: Command = {
  summary:
    'start the development stack (IdP, supervisor, egress gateway, router, console) with a demo tenant',
  usage:
    'bulkhead up [--port 8080] [--idp-port 9400] [--console-port 8090] [--tenant demo] [--users alice=editor,bob=viewer] [--console-users olivia=operator,aldo=auditor] [--smoke]',
  async run(args) {
    const { values } = parse(
      args,
      {
        port: { type: 'string', default: '8080' },
        'idp-port': { type: 'string', default: '9400' },
        tenant: { type: 'string', default: 'demo' },
        users: { type: 'string', default: 'alice=editor,bob=viewer' },
        'console-port': { type: 'string', default: '8090' },
        'console-users': { type: 'string', default: 'olivia=operator,aldo=auditor' },
        smoke: { type: 'boolean', default: false },
      },
      { positionals: false },
    );
    // Every value is checked before anything starts: a wrong tenant id would otherwise be refused
    // only by the onboarding, once the IdP, the supervisor, the router and the console were up.
    tenantIdOption(values.tenant, '--tenant');
    const settings = cliSettings();
    const routerUrl = `http://127.0.0.1:${values.port}`;
    const resourceUrl = `${routerUrl}/mcp`;
    const issuer = `http://127.0.0.1:${values['idp-port']}`;
    const users = parseUsers(values.users, values.tenant);
    const consoleUsers = parseConsoleUsers(values['console-users']);
    await assertPortsFree([
      { flag: '--port', value: values.port },
      { flag: '--idp-port', value: values['idp-port'] },
      { flag: '--console-port', value: values['console-port'] },
    ]);
    const [routerMetricsPort, supervisorMetricsPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
    const logDir = join(settings.devDir, 'logs');
    await mkdir(logDir, { recursive: true });
    const keys = await ensureCallKeys(join(settings.devDir, 'keys'));
    step(
      `call-assertion and egress gateway keys: ${keys.created ? 'created' : 'reused'} in ${join(settings.devDir, 'keys')}`,
    );
    // The audit keys and directory of the development stack: segments are sealed under the dev dir.
    const auditKeys = await ensureAuditKeys(join(settings.devDir, 'keys'));
    const auditDir = join(settings.devDir, 'audit');

    let failed: Error | undefined;
    const children = new ChildGroup({
      logDir,
      onUnexpectedExit: (child, code) => {
        failed = new Error(`${child.name} exited with code ${code}; see ${child.logFile}`);
        void tail(child.logFile).then((text) =>
          console.error(`[up] ${child.name} exited (${code}):\n${text}`),
        );
      },
    });
    const stop = async (): Promise<void> => {
      step('stopping');
      await children.stop();
    };

    try {
      const initialAccessToken = randomBytes(24).toString('base64url');
      const common = {
        BULKHEAD_REDIS_URL: settings.redisUrl,
        BULKHEAD_NAMESPACE: settings.namespace,
      };
      step(`starting the development IdP at ${issuer}`);
      children.start('idp', join(ROOT, 'dev/idp/main.ts'), {
        BULKHEAD_IDP_PORT: values['idp-port'],
        BULKHEAD_IDP_ISSUER: issuer,
        BULKHEAD_RESOURCE_URL: resourceUrl,
        BULKHEAD_IDP_INITIAL_ACCESS_TOKEN: initialAccessToken,
        BULKHEAD_IDP_USERS: JSON.stringify([...users, ...consoleUsers]),
      });
      await waitForHttp(`${issuer}/.well-known/openid-configuration`, 20_000);
      const secretsKeyFile = settings.secretsKeyFile ?? join(settings.devDir, 'secrets.key');
      step('starting the supervisor (the only process with the Docker socket)');
      children.start('supervisor', join(ROOT, 'supervisor/main.ts'), {
        ...common,
        BULKHEAD_ROUTER_PUBLIC_KEY_FILE: keys.publicKeyFile,
        BULKHEAD_EGRESS_PUBLIC_KEY_FILE: keys.egress.publicKeyFile,
        BULKHEAD_METRICS_PORT: String(supervisorMetricsPort),
        BULKHEAD_AUDIT_SIGNING_KEY_FILE: auditKeys.signingKeyFile,
        BULKHEAD_AUDIT_DIR: auditDir,
        BULKHEAD_AUDIT_SEAL_INTERVAL_MS: '60000',
        BULKHEAD_SECRETS_KEY_FILE: secretsKeyFile,
      });
      step("starting the egress gateway (no Docker socket: it dials egress-enabled tenants' bridges)");
      children.start('egress', join(ROOT, 'egress/main.ts'), {
        ...common,
        BULKHEAD_SECRETS_KEY_FILE: secretsKeyFile,
        BULKHEAD_EGRESS_KEY_FILE: keys.egress.privateKeyFile,
        // As docker-compose.yml: 8 host-name lookups at once (docs/security.md, "Name resolution").
        UV_THREADPOOL_SIZE: '16',
      });
      step(`starting the router at ${routerUrl}`);
      children.start('router', join(ROOT, 'router/main.ts'), {
        ...common,
        BULKHEAD_ISSUER: issuer,
        BULKHEAD_RESOURCE_URL: resourceUrl,
        BULKHEAD_ROUTER_PORT: values.port,
        BULKHEAD_ROUTER_PRIVATE_KEY_FILE: keys.privateKeyFile,
        BULKHEAD_ROUTER_METRICS_PORT: String(routerMetricsPort),
        BULKHEAD_AUDIT_SECRET_FILE: auditKeys.secretFile,
      });
      await waitForHttp(`${routerUrl}/healthz`, 20_000);
      step(`starting the console at http://127.0.0.1:${values['console-port']}`);
      const consoleUrl = await startDevConsole({
        children,
        root: ROOT,
        issuer,
        initialAccessToken,
        port: values['console-port'],
        common,
        metricsTargets: [routerMetricsPort, supervisorMetricsPort].map(
          (p) => `http://127.0.0.1:${p}/metrics`,
        ),
        // The sealed segments too, so that the console shows each tenant's whole trail.
        audit: { dir: auditDir, publicKeyFile: auditKeys.publicKeyFile },
      });

      await withContext(async (ctx) => {
        const existing = await ctx.registry.get(values.tenant);
        if (existing) {
          step(`tenant "${values.tenant}" already exists: making sure its runtime is up`);
          await ctx.runtimes.ensure(values.tenant);
        } else {
          step(`onboarding demo tenant "${values.tenant}"`);
          const result = await onboardTenant(
            ctx,
            // The demo agent acts alone: open the records tools (but delete) to it explicitly.
            {
              id: values.tenant,
              plan: 'small',
              isolation: 'runc',
              tools: openToAgentsAlone(DEMO_AGENT_TOOLS),
            },
            (m) => step(`  ${m}`),
          );
          step(`tenant ready in ${result.ms} ms (uid ${result.tenant.uid})`);
        }
      });

      const stack: DevStack = {
        issuer,
        routerUrl,
        resourceUrl,
        initialAccessToken,
        agents: {},
        users,
        apps: {},
      };
      await writeDevStack(settings.devDir, stack);
      if (failed) throw failed;

      console.log(`
Bulkhead is running.
  MCP endpoint:   ${resourceUrl}
  Token issuer:   ${issuer} (development IdP; tokens last ${tokenLifetimeText(process.env)})
  Get a token:    ${process.execPath} dev/cli/main.ts token --tenant ${values.tenant}
  A user's token: ${process.execPath} dev/cli/main.ts token --user ${users[0]?.id ?? '<user>'}   (users: ${users.map((u) => `${u.id}=${u.roles.join('+')}`).join(', ') || 'none'})
  Console:        ${consoleUrl}   (sign in as ${consoleUsers.map((u) => `${u.id} (${u.roles.join('+')})`).join(', ') || 'nobody: see --console-users'})
  Logs:           ${logDir}
  Audit trail:    sealed every minute into ${auditDir}; check it offline with
                  BULKHEAD_AUDIT_DIR=${auditDir} BULKHEAD_AUDIT_PUBLIC_KEY_FILE=${auditKeys.publicKeyFile} ${process.execPath} dev/cli/main.ts audit verify ${values.tenant}

Client configuration (paste into an MCP client: it registers itself and sends you to the IdP's
sign-in page, where a user above signs in with any password; docs/clients.md has each client's):
${JSON.stringify({ mcpServers: { bulkhead: { type: 'http', url: resourceUrl } } }, null, 2)}
`);
      if (values.smoke) {
        const firstUser = users[0];
        await smokeTest(
          resourceUrl,
          await agentToken(settings.devDir, stack, values.tenant),
          firstUser
            ? await userToken(settings.devDir, stack, { user: firstUser.id, scope: 'records:read' })
            : undefined,
        );
        step('smoke test passed');
        return;
      }
      step('press Ctrl-C to stop');
      await new Promise<void>((resolveWait) => {
        process.once('SIGINT', () => resolveWait());
        process.once('SIGTERM', () => resolveWait());
      });
    } finally {
      await stop();
    }
  },
};
