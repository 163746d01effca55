// What the runtime's MCP server serves from its packs besides tools: resources (list, read,
// templates) routed to the pack that listed them, prompts under exposed names, and completion for
// either. Requests to a pack are bounded by the call timeout and cancelled with the caller's, and
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
import type { PackReach } from './pack-reach.ts';

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
    const owner = reach.resourceOwner(request.params.uri);
    if (!owner) throw notFound(`resource ${request.params.uri}`, 'unknown_resource');
    return relayed(owner, 'resources/read', (client) =>
      client.readResource({ uri: request.params.uri }, bounded(ctx)),
    );
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
    const owner = reach.templateOwner(ref.uri);
    if (!owner) throw notFound(`resource template ${ref.uri}`, 'unknown_resource');
    return relayed(owner, 'completion/complete', (client) => client.complete(request.params, bounded(ctx)));
  });
  server.setRequestHandler('logging/setLevel', () => Promise.resolve({}));
}
