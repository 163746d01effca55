// What the runtime's MCP server serves from its packs besides tools: resources (list, read,
// templates) routed to the one pack that claims them (pack-reach.ts: a URI two packs claim goes to
// neither), prompts under exposed names, and completion for either. Requests to a pack are bounded by the call timeout and cancelled with the caller's, and
// traced when the router traces the request (tracing/pack-span.ts).
import {
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Client } from '@modelcontextprotocol/client';
import { toolError } from '../../../kernel/tools/tool-errors.ts';
import type { CallTrace } from '../tracing/call-tracer.ts';
import { inPackSpan, startPackSpan } from '../tracing/pack-span.ts';
import type { PackHost } from './pack-host.ts';
import type { PackProcess } from './pack-process.ts';
import type { PackReach, Route } from './pack-reach.ts';

export interface PackSurfaceOptions {
  host: PackHost;
  callTimeoutMs: number;
  connection: AbortSignal;
  /** The request's trace, when the router traces it: each relay to a pack gets a span. */
  trace?: CallTrace;
  /** The packs this caller may reach (pack-reach.ts): nothing of another pack is listed or served. */
  reach: PackReach;
}

/** The capabilities the runtime adds when it hosts packs. */
export const PACK_CAPABILITIES = { resources: {}, prompts: {}, completions: {}, logging: {} } as const;

/**
 * Also what a caller gets for another pack's item: it cannot tell one that exists from one that does
 * not. Its data is the structured error the router's own refusals carry, so the router records it
 * as the denial it is (router/mcp/relay-admission.ts).
 */
function notFound(what: string, code: 'unknown_resource' | 'unknown_prompt'): ProtocolError {
  const message = `${what} is served by no pack of this tenant`;
  return new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    message,
    toolError(code, message).structuredContent.error,
  );
}

function conflictError(message: string, details?: unknown): ProtocolError {
  const { error } = toolError('resource_conflict', message, details ? { details } : {}).structuredContent;
  return new ProtocolError(ProtocolErrorCode.InvalidParams, message, error);
}

/**
 * The pack a resource request goes to, else the refusal. A conflict names the claimants this caller
 * reaches and only counts the others; the runtime's log names them all, for the operator.
 */
function routed(route: Route, what: string, host: PackHost): PackProcess {
  if (!route) throw notFound(what, 'unknown_resource');
  if (!('conflict' in route)) return route;
  const { packs, reachable } = route.conflict;
  host.log.warn({ resource: what, packs }, 'more than one pack claims a resource: refused');
  const others = packs.length - reachable.length;
  const named =
    others > 0
      ? `${reachable.join(', ')} and ${others} pack(s) this caller does not reach`
      : packs.join(', ');
  throw conflictError(
    `${what} is claimed by more than one pack of this tenant (${named}): it is sent to none, so that no pack answers for another's; the operator must change the packs so that one alone lists it or has a template it matches`,
    { packs: reachable, unreachable: others },
  );
}

async function clientOf(process: PackProcess) {
  const client = await process.ready();
  if ('code' in client) throw new ProtocolError(ProtocolErrorCode.InternalError, client.message);
  return client;
}

type RelayedMethod = 'resources/read' | 'prompts/get' | 'completion/complete';

export function installPackSurface(server: Server, options: PackSurfaceOptions): void {
  const { host } = options;
  const bounded = (ctx: ServerContext) => ({
    signal: AbortSignal.any([ctx.mcpReq.signal, options.connection]),
    timeout: options.callTimeoutMs,
  });
  /** A request to the pack: in its span, and counted among the pack's requests in flight. */
  const relayed = <T>(process: PackProcess, method: RelayedMethod, work: (client: Client) => Promise<T>) => {
    const pack = host.enabledPack(process.name);
    const span = startPackSpan(options.trace, { pack: pack.name, version: pack.version, method });
    return host.counting(process.name, () =>
      inPackSpan(span, async () => {
        if (process.pid === undefined) span?.started();
        return work(await clientOf(process));
      }),
    );
  };

  const { reach } = options;
  server.setRequestHandler('resources/list', () => Promise.resolve({ resources: reach.resources() }));
  server.setRequestHandler('resources/templates/list', () =>
    Promise.resolve({ resourceTemplates: reach.templates() }),
  );
  server.setRequestHandler('resources/read', async (request, ctx) => {
    const { uri } = request.params;
    const owner = routed(reach.resourceOwner(uri), `resource ${uri}`, host);
    const result = await relayed(owner, 'resources/read', (client) =>
      client.readResource({ uri }, bounded(ctx)),
    );
    // An answer may carry other URIs than the one read (a directory's entries): none another pack claims.
    const forged = result.contents.find((content) => reach.claimedByAnother(content.uri, owner));
    if (forged) {
      host.log.warn(
        { pack: owner.name, resource: uri, answered: forged.uri },
        "pack answered with another pack's resource",
      );
      throw conflictError(
        `pack ${owner.name} answered the read of ${uri} with ${forged.uri}, which another pack of this tenant claims: refused`,
      );
    }
    return result;
  });
  server.setRequestHandler('prompts/list', () => Promise.resolve({ prompts: reach.prompts() }));
  server.setRequestHandler('prompts/get', async (request, ctx) => {
    const owner = reach.promptOwner(request.params.name);
    if (!owner) throw notFound(`prompt ${request.params.name}`, 'unknown_prompt');
    return relayed(owner.process, 'prompts/get', (client) =>
      client.getPrompt({ ...request.params, name: owner.name }, bounded(ctx)),
    );
  });
  server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref } = request.params;
    if (ref.type === 'ref/prompt') {
      const owner = reach.promptOwner(ref.name);
      if (!owner) throw notFound(`prompt ${ref.name}`, 'unknown_prompt');
      return relayed(owner.process, 'completion/complete', (client) =>
        client.complete({ ...request.params, ref: { ...ref, name: owner.name } }, bounded(ctx)),
      );
    }
    const owner = routed(reach.templateOwner(ref.uri), `resource template ${ref.uri}`, host);
    return relayed(owner, 'completion/complete', (client) => client.complete(request.params, bounded(ctx)));
  });
  server.setRequestHandler('logging/setLevel', () => Promise.resolve({}));
}
