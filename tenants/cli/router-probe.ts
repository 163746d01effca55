// The cross-tenant attempt through the router, for `verify --router`: an agent of another tenant
// (the intruder) asks the router for the target tenant's records by id, lists its own records
// looking for the target's, and tries to name the target tenant in the request's `_meta`. Every
// attempt must be refused or come back empty; the tenant comes from the verified token only.
// Read-only towards the target: it lists the target's record ids with the target's own token.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { IsolationCheck } from '../../supervisor/client/isolation-report.ts';

export interface RouterProbeOptions {
  mcpUrl: string;
  target: string;
  intruder: string;
  tokenFor(tenant: string): Promise<string>;
}

async function connect(mcpUrl: string, token: string): Promise<Client> {
  const client = new Client({ name: 'bulkhead-verify', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

const ids = (result: { structuredContent?: unknown }): string[] =>
  ((result.structuredContent as { records?: { id: string }[] } | undefined)?.records ?? []).map((r) => r.id);

export async function crossTenantProbe(options: RouterProbeOptions): Promise<IsolationCheck> {
  const control = "another tenant's agent cannot reach this tenant's data through the router";
  const target = await connect(options.mcpUrl, await options.tokenFor(options.target));
  const intruder = await connect(options.mcpUrl, await options.tokenFor(options.intruder));
  try {
    const targetIds = ids(await target.callTool({ name: 'records_list', arguments: { limit: 5 } }));
    const leaks: string[] = [];
    for (const id of targetIds) {
      const got = await intruder.callTool({ name: 'records_get', arguments: { id } });
      if (!got.isError) leaks.push(`records_get ${id} answered`);
    }
    const listed = ids(await intruder.callTool({ name: 'records_list', arguments: { limit: 100 } }));
    leaks.push(...listed.filter((id) => targetIds.includes(id)).map((id) => `records_list showed ${id}`));
    const who = await intruder.callTool({
      name: 'whoami',
      arguments: {},
      _meta: { tenant: options.target, 'io.bulkhead/tenant': options.target },
    });
    const claimed = (who.structuredContent as { tenant?: string } | undefined)?.tenant;
    if (claimed !== options.intruder)
      leaks.push(`_meta naming "${options.target}" made the call run as "${claimed}"`);
    return {
      id: 'router.cross-tenant',
      control,
      source: 'router',
      pass: leaks.length === 0,
      why:
        leaks.length === 0
          ? `an agent of "${options.intruder}" asked for ${targetIds.length} record(s) of "${options.target}" by id: all refused; its own list held none of them; _meta naming the target was ignored (ran as "${claimed}")`
          : leaks.join('; '),
    };
  } finally {
    await Promise.all([target.close(), intruder.close()]);
  }
}
