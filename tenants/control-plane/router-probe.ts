// The cross-tenant attempt through the router, for `verify --router`. It first writes one canary
// record into the target tenant with the target's own agent token and reads it back, so there is
// always something to steal; then an agent of another tenant (the intruder) asks the router for
// that record by id (plainly and naming the target in `_meta`), lists its own records looking for
// it, and names the target in `whoami`'s `_meta`. Every attempt must be refused or come back
// empty. Nothing probed is a FAIL, never a pass: a target whose agent cannot write and read the
// canary, or an intruder whose agent may not even ask, proves nothing.
//
// The canary: removed afterwards when the target's agent may call records_delete (a fresh key each
// run); otherwise kept, written under one stable idempotency key so repeated verifies replay the
// same record instead of piling up new ones.
import { randomUUID } from 'node:crypto';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { IsolationCheck } from '../../supervisor/client/isolation-report.ts';

/** What the probe needs of an MCP session: a project port, so a unit test can stand in a leaky router. */
export interface ToolCaller {
  toolNames(): Promise<string[]>;
  call(
    name: string,
    args: Record<string, unknown>,
    meta?: Record<string, unknown>,
  ): Promise<{ isError?: boolean; structuredContent?: unknown }>;
  close(): Promise<void>;
}

export interface RouterProbeOptions {
  target: string;
  intruder: string;
  /** An MCP session as this tenant's agent acting alone. */
  connect(tenant: string): Promise<ToolCaller>;
}

export const CANARY_KEY = 'bulkhead-verify-canary';
export const CANARY_TITLE = 'bulkhead verify canary (written by `bulkhead verify --router`)';
const CONTROL = "another tenant's agent cannot reach this tenant's data through the router";

/** A ToolCaller over the router's `/mcp` endpoint with a bearer token. */
export async function routerCaller(mcpUrl: string, token: string): Promise<ToolCaller> {
  const client = new Client({ name: 'bulkhead-verify', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return {
    toolNames: async () => (await client.listTools()).tools.map((t) => t.name),
    call: (name, args, meta) => client.callTool({ name, arguments: args, ...(meta ? { _meta: meta } : {}) }),
    close: () => client.close(),
  };
}

type Result = Awaited<ReturnType<ToolCaller['call']>>;
const content = <T>(result: Result): T | undefined => result.structuredContent as T | undefined;
const errorCode = (result: Result): string =>
  content<{ error?: { code?: string } }>(result)?.error?.code ?? 'error';
const verdict = (pass: boolean, why: string): IsolationCheck => ({
  id: 'router.cross-tenant',
  control: CONTROL,
  source: 'router',
  pass,
  why,
});

const missing = (have: string[], need: string[]): string[] => need.filter((n) => !have.includes(n));

/** Writes the canary with `key` and reads it back with the same token: its id, or why not. */
async function writeCanary(target: ToolCaller, key: string): Promise<{ id: string } | { error: string }> {
  const created = await target.call('records_create', {
    title: CANARY_TITLE,
    body: 'A record another tenant must never read. Safe to delete.',
    idempotency_key: key,
  });
  const id = content<{ record?: { id?: string } }>(created)?.record?.id;
  if (created.isError || !id) return { error: `records_create failed (${errorCode(created)})` };
  const back = await target.call('records_get', { id });
  return back.isError ? { error: `records_get of ${id} failed (${errorCode(back)})` } : { id };
}

export async function crossTenantProbe(options: RouterProbeOptions): Promise<IsolationCheck> {
  const { target: targetId, intruder: intruderId } = options;
  const target = await options.connect(targetId);
  const intruder = await options.connect(intruderId);
  try {
    const targetTools = await target.toolNames();
    const cannotSeed = missing(targetTools, ['records_create', 'records_get']);
    if (cannotSeed.length > 0)
      return verdict(
        false,
        `nothing probed: the agent of "${targetId}" may not call ${cannotSeed.join(', ')}, so no canary could be written (open them to agents alone)`,
      );
    const cannotAsk = missing(await intruder.toolNames(), ['records_get', 'records_list']);
    if (cannotAsk.length > 0)
      return verdict(
        false,
        `nothing probed: the agent of "${intruderId}" may not call ${cannotAsk.join(', ')}, so a refusal would prove nothing (choose another --intruder)`,
      );

    const removable = targetTools.includes('records_delete');
    let canary = await writeCanary(target, removable ? `${CANARY_KEY}-${randomUUID()}` : CANARY_KEY);
    // The kept canary was deleted by someone within the replay window: write a new one.
    if ('error' in canary && !removable) canary = await writeCanary(target, `${CANARY_KEY}-${Date.now()}`);
    if ('error' in canary)
      return verdict(false, `nothing probed: seeding the canary failed: ${canary.error}`);
    const { id } = canary;

    const leaks: string[] = [];
    const plain = await intruder.call('records_get', { id });
    if (!plain.isError) leaks.push(`records_get ${id} answered`);
    const named = await intruder.call(
      'records_get',
      { id },
      { tenant: targetId, 'io.bulkhead/tenant': targetId },
    );
    if (!named.isError) leaks.push(`records_get ${id} with _meta naming "${targetId}" answered`);
    const listed = content<{ records?: { id: string }[] }>(
      await intruder.call('records_list', { limit: 100, order: 'newest_first' }),
    )?.records;
    if (listed?.some((r) => r.id === id)) leaks.push(`records_list showed ${id}`);
    const who = await intruder.call('whoami', {}, { tenant: targetId, 'io.bulkhead/tenant': targetId });
    const ranAs = content<{ tenant?: string }>(who)?.tenant;
    if (ranAs !== intruderId) leaks.push(`whoami with _meta naming "${targetId}" ran as "${ranAs}"`);

    let fate = `kept (the agent of "${targetId}" may not delete; later verifies reuse it)`;
    if (removable) {
      const deleted = await target.call('records_delete', {
        id,
        idempotency_key: `${CANARY_KEY}-delete-${id}`,
      });
      fate = deleted.isError ? `NOT removed (records_delete: ${errorCode(deleted)})` : 'removed afterwards';
    }
    const seeded = `wrote one canary record ${id} in "${targetId}" and read it back as "${targetId}"; canary ${fate}`;
    if (leaks.length > 0) return verdict(false, `${seeded}; LEAKED to "${intruderId}": ${leaks.join('; ')}`);
    return verdict(
      true,
      `${seeded}; an agent of "${intruderId}" asked for it by id: refused (${errorCode(plain)}), and with _meta naming "${targetId}": refused (${errorCode(named)}); ${listed ? `its own newest ${listed.length} records did not hold it` : 'its records_list was refused'}; whoami with _meta naming "${targetId}" ran as "${ranAs}"`,
    );
  } finally {
    await Promise.all([target.close(), intruder.close()]);
  }
}
