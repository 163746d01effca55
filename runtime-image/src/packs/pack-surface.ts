// What the runtime's MCP server serves from its packs besides tools: resources (list, read,
// templates) routed to the pack that listed them, prompts under exposed names, and completion for
// either. Requests to a pack are bounded by the call timeout and cancelled with the caller's.
import {
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { PackHost } from './pack-host.ts';
import type { PackProcess } from './pack-process.ts';

export interface PackSurfaceOptions {
  host: PackHost;
  callTimeoutMs: number;
  connection: AbortSignal;
}

/** The capabilities the runtime adds when it hosts packs. */
export const PACK_CAPABILITIES = { resources: {}, prompts: {}, completions: {}, logging: {} } as const;

function notFound(what: string): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, `${what} is served by no pack of this tenant`);
}

async function clientOf(process: PackProcess) {
  const client = await process.ready();
  if ('code' in client) throw new ProtocolError(ProtocolErrorCode.InternalError, client.message);
  return client;
}

export function installPackSurface(server: Server, options: PackSurfaceOptions): void {
  const { host } = options;
  const bounded = (ctx: ServerContext) => ({
    signal: AbortSignal.any([ctx.mcpReq.signal, options.connection]),
    timeout: options.callTimeoutMs,
  });

  server.setRequestHandler('resources/list', () =>
    Promise.resolve({ resources: host.packs.flatMap((p) => p.listing.resources) }),
  );
  server.setRequestHandler('resources/templates/list', () =>
    Promise.resolve({ resourceTemplates: host.packs.flatMap((p) => p.listing.templates) }),
  );
  server.setRequestHandler('resources/read', async (request, ctx) => {
    const owner = host.resourceOwner(request.params.uri);
    if (!owner) throw notFound(`resource ${request.params.uri}`);
    return (await clientOf(owner)).readResource({ uri: request.params.uri }, bounded(ctx));
  });
  server.setRequestHandler('prompts/list', () => Promise.resolve({ prompts: host.prompts() }));
  server.setRequestHandler('prompts/get', async (request, ctx) => {
    const owner = host.promptOwner(request.params.name);
    if (!owner) throw notFound(`prompt ${request.params.name}`);
    const client = await clientOf(owner.process);
    return client.getPrompt({ ...request.params, name: owner.name }, bounded(ctx));
  });
  server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref } = request.params;
    if (ref.type === 'ref/prompt') {
      const owner = host.promptOwner(ref.name);
      if (!owner) throw notFound(`prompt ${ref.name}`);
      const client = await clientOf(owner.process);
      return client.complete({ ...request.params, ref: { ...ref, name: owner.name } }, bounded(ctx));
    }
    const owner = host.templateOwner(ref.uri);
    if (!owner) throw notFound(`resource template ${ref.uri}`);
    return (await clientOf(owner)).complete(request.params, bounded(ctx));
  });
  server.setRequestHandler('logging/setLevel', () => Promise.resolve({}));
}
