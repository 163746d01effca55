// The parts of MCP beyond tools that a tenant's packs serve (resources, resource templates, prompts,
// completion, logging levels), answered by forwarding to the tenant's own runtime. Scoped and
// authorized like tools: a caller reaches only the packs whose tools it may call (the signed call
// context names them, and the runtime serves nothing else), and every listed item is checked again
// here against the pack it came from, so a runtime cannot slip another pack's item to the caller.
import {
  ProtocolError,
  type LoggingLevel,
  type Result,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { packOfExposed } from '../../kernel/packs/pack-naming.ts';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import type { ForwardedMethod } from '../dispatch/call-relay.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import { runtimeFailure } from '../pipeline/call-pipeline.ts';
import type { RequestContext } from '../request/request-context.ts';
import type { ClientRequests } from './client-requests.ts';
import { answerInputRounds, openedState } from './input-rounds.ts';
import { protocolErrorFor } from './json-rpc.ts';
import type { RequestStateSeal } from './request-state.ts';
import type { SessionStore } from './sessions.ts';

const METHOD_NOT_FOUND = -32601;

/** The `_meta` key a runtime names a listed resource's pack with. */
export const PACK_META_KEY = 'io.bulkhead/pack';

export interface RelayDeps {
  dispatcher: TenantDispatcher;
  /** Seals multi-round-trip state; router.ts derives it from the installation's key (request-state.ts). */
  seal: RequestStateSeal;
  /** Open elicitation and sampling questions to 2025 clients (client-requests.ts). */
  questions: ClientRequests;
  sessions?: SessionStore | undefined;
}

/** The packs a caller may reach: those of the tenant tools it may call. */
export function packsOf(context: RequestContext): string[] {
  const packs = new Set<string>();
  for (const { definition } of context.visible()) {
    const pack = definition.kind === 'tenant' ? packOfExposed(definition.name) : undefined;
    if (pack) packs.add(pack);
  }
  return [...packs].sort();
}

function callContext(context: RequestContext, packs: string[]): CallContext {
  const { principal } = context;
  return {
    tenant: principal.tenant,
    user: principal.user,
    agent: principal.agent,
    scopes: principal.scopes,
    packs,
  };
}

type Item = { name?: unknown; _meta?: Record<string, unknown> };

function fromPacks<T extends Item>(items: T[] | undefined, packs: string[], byName: boolean): T[] {
  return (items ?? []).filter((item) => {
    const pack = byName ? packOfExposed(String(item.name)) : item._meta?.[PACK_META_KEY];
    return typeof pack === 'string' && packs.includes(pack);
  });
}

export function registerRelayHandlers(
  server: Server,
  context: RequestContext,
  deps: RelayDeps,
  era: 'legacy' | 'modern',
): void {
  const packs = (): string[] => packsOf(context);

  async function forward(
    method: ForwardedMethod,
    params: Record<string, unknown>,
    ctx: ServerContext,
    target: string,
  ): Promise<Result> {
    const reachable = packs();
    const binding = { principal: context.principal, request: `${method}:${target}` };
    const session = ctx.http?.req?.headers.get('mcp-session-id') ?? undefined;
    const send = (inputResponses?: Record<string, unknown>, requestState?: string): Promise<Result> =>
      deps.dispatcher
        .forward(callContext(context, reachable), method, params, {
          signal: ctx.mcpReq.signal,
          inputResponses,
          requestState,
        })
        .catch((error: unknown) => {
          if (error instanceof ProtocolError) throw error;
          const failure = runtimeFailure(error);
          if (!failure) throw error;
          throw protocolErrorFor(failure);
        });
    try {
      const first = await send(
        ctx.mcpReq.inputResponses,
        openedState(deps.seal, binding, ctx.mcpReq.requestState()),
      );
      return await answerInputRounds(first, {
        seal: deps.seal,
        binding,
        push:
          era === 'legacy' && session
            ? { questions: deps.questions, server, session, relatedRequestId: ctx.mcpReq.id }
            : undefined,
        retry: (responses, state) => send(responses, state),
      });
    } catch (error) {
      if (isBulkheadError(error)) throw protocolErrorFor(error);
      throw error;
    }
  }

  /** A list from the runtime; one whose packs offer none of this kind answers "method not found". */
  async function list(method: ForwardedMethod, params: unknown, ctx: ServerContext): Promise<Result> {
    try {
      return await forward(method, (params ?? {}) as Record<string, unknown>, ctx, '');
    } catch (error) {
      if (error instanceof ProtocolError && error.code === METHOD_NOT_FOUND) return {};
      throw error;
    }
  }

  server.setRequestHandler('resources/list', async (request, ctx) => {
    if (packs().length === 0) return { resources: [] };
    const result = (await list('resources/list', request.params, ctx)) as { resources?: Item[] };
    return { ...result, resources: fromPacks(result.resources, packs(), false) } as never;
  });
  server.setRequestHandler('resources/templates/list', async (request, ctx) => {
    if (packs().length === 0) return { resourceTemplates: [] };
    const result = (await list('resources/templates/list', request.params, ctx)) as {
      resourceTemplates?: Item[];
    };
    return { ...result, resourceTemplates: fromPacks(result.resourceTemplates, packs(), false) } as never;
  });
  server.setRequestHandler('resources/read', async (request, ctx) => {
    const { uri } = request.params;
    if (packs().length === 0)
      throw protocolErrorFor(new BulkheadError('unknown_resource', `Resource not found: ${uri}`));
    return (await forward('resources/read', request.params, ctx, uri)) as never;
  });
  server.setRequestHandler('prompts/list', async (request, ctx) => {
    if (packs().length === 0) return { prompts: [] };
    const result = (await list('prompts/list', request.params, ctx)) as { prompts?: Item[] };
    return { ...result, prompts: fromPacks(result.prompts, packs(), true) } as never;
  });
  server.setRequestHandler('prompts/get', async (request, ctx) => {
    const { name } = request.params;
    const pack = packOfExposed(name);
    if (!pack || !packs().includes(pack))
      throw protocolErrorFor(new BulkheadError('unknown_prompt', `Unknown prompt: ${name}`));
    return (await forward('prompts/get', request.params, ctx, name)) as never;
  });
  server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref } = request.params;
    const target = ref.type === 'ref/prompt' ? ref.name : ref.uri;
    if (ref.type === 'ref/prompt') {
      const pack = packOfExposed(ref.name);
      if (!pack || !packs().includes(pack))
        throw protocolErrorFor(new BulkheadError('unknown_prompt', `Unknown prompt: ${ref.name}`));
    } else if (packs().length === 0) {
      return { completion: { values: [] } };
    }
    return (await forward('completion/complete', request.params, ctx, target)) as never;
  });
  server.setRequestHandler('logging/setLevel', async (request, ctx) => {
    const session = ctx.http?.req?.headers.get('mcp-session-id');
    if (session) await deps.sessions?.setLogLevel(session, request.params.level);
    return {};
  });
}

const LEVELS: readonly LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

/** Whether a log message at `level` reaches a client that asked for `minimum` and above. */
export function logLevelPasses(level: unknown, minimum: string | undefined): boolean {
  if (minimum === undefined) return true;
  const at = LEVELS.indexOf(level as LoggingLevel);
  return at < 0 || at >= LEVELS.indexOf(minimum as LoggingLevel);
}
