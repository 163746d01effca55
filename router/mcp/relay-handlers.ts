// The parts of MCP beyond tools that a tenant's packs serve (resources, resource templates, prompts,
// completion, logging levels), answered by forwarding to the tenant's own runtime. Scoped and
// authorized like tools: a caller reaches only the packs whose tools it may call (the signed call
// context names them, and the runtime serves nothing else: runtime-image/src/packs/pack-reach.ts),
// and every listed item is checked again here against the pack it came from, so a runtime cannot
// slip another pack's item to the caller. Admitted and audited like tools too: relay-admission.ts.
// Prompts are pinned like tools: a listed prompt is served as the approval holds it, and only while
// the runtime lists it with the approved name, title, description and arguments; a prompt no
// approval of the tenant's pinned versions holds is neither listed nor got.
import type { Logger } from 'pino';
import {
  ProtocolError,
  type LoggingLevel,
  type Result,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { BulkheadError, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { isApprovedPrompt } from '../../kernel/packs/pack-approval.ts';
import { PACK_META_KEY, packOfExposed } from '../../kernel/packs/pack-naming.ts';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import type { ForwardedMethod } from '../dispatch/call-relay.ts';
import type { TenantDispatcher } from '../dispatch/tenant-dispatcher.ts';
import type { PackCatalog } from '../tools/pack-catalog.ts';
import { runtimeFailure } from '../pipeline/call-pipeline.ts';
import { stateUnavailable } from '../pipeline/state-guard.ts';
import type { RequestContext } from '../request/request-context.ts';
import { sessionOf, type ClientRequests } from './client-requests.ts';
import { answerInputRounds, askedBy, openedState, type AskedClient } from './input-rounds.ts';
import { protocolErrorFor } from './json-rpc.ts';
import type { RequestStateSeal } from './request-state.ts';
import type { SessionStore } from './sessions.ts';
import { relayRequest, type RelayAdmissionDeps } from './relay-admission.ts';

const METHOD_NOT_FOUND = -32601;

export interface RelayDeps extends RelayAdmissionDeps {
  dispatcher: TenantDispatcher;
  /** Seals multi-round-trip state; router.ts derives it from the installation's key (request-state.ts). */
  seal: RequestStateSeal;
  /** Open elicitation and sampling questions to 2025 clients (client-requests.ts). */
  questions: ClientRequests;
  sessions?: SessionStore | undefined;
  /** The approved prompts of a tenant's pinned pack versions (router/tools/pack-catalog.ts). */
  prompts: Pick<PackCatalog, 'promptsFor'>;
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

/**
 * The approved copy of each listed prompt whose listing is the approved one; the others are withheld
 * and logged: a prompt no approval holds, and one whose pinned fields drifted since its approval.
 */
function approvedCopies(listed: Item[], approved: ReadonlyMap<string, Record<string, unknown>>, log: Logger) {
  return listed.flatMap((item) => {
    const prompt = String(item.name);
    const copy = approved.get(prompt);
    if (copy && isApprovedPrompt(item, copy)) return [copy];
    const event = copy ? 'prompt_definition_drift' : 'prompt_not_approved';
    log.error(
      { prompt, event },
      'tenant runtime lists a prompt that is not an approved one: prompt withheld',
    );
    return [];
  });
}

export function registerRelayHandlers(
  server: Server,
  context: RequestContext,
  deps: RelayDeps,
  client: AskedClient,
): void {
  const packs = (): string[] => packsOf(context);
  const approvedPrompts = () => deps.prompts.promptsFor(context.tenant?.packs ?? []);

  async function forward(
    method: ForwardedMethod,
    params: Record<string, unknown>,
    ctx: ServerContext,
    target: string,
  ): Promise<Result> {
    const reachable = packs();
    const binding = { principal: context.principal, tenant: context.tenant, request: `${method}:${target}` };
    const session = client.era === 'legacy' ? sessionOf(ctx) : undefined;
    // A 2025 session's request is aborted by its client's cancellation too (client-requests.ts).
    const call = { session, id: ctx.mcpReq.id, signal: ctx.mcpReq.signal };
    return deps.questions.during(call, async (signal) => {
      const send = (inputResponses?: Record<string, unknown>, requestState?: string): Promise<Result> =>
        deps.dispatcher
          .forward(callContext(context, reachable), method, params, { signal, inputResponses, requestState })
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
          client: askedBy(client, ctx),
          push: session
            ? { questions: deps.questions, server, session, relatedRequestId: ctx.mcpReq.id, signal }
            : undefined,
          retry: (responses, state) => send(responses, state),
        });
      } catch (error) {
        if (isBulkheadError(error)) throw protocolErrorFor(error);
        throw error;
      }
    });
  }

  /**
   * One request relayed to the runtime, admitted and recorded (relay-admission.ts). `reach` refuses
   * first what the caller cannot reach. When the runtime's packs offer nothing of this kind (it
   * answers "method not found"), `absent` is the answer, or `unserved` the refusal: the router
   * declares the capability, so the caller named something no pack serves, its own mistake, as the
   * runtime says when its packs serve others, not the runtime failing.
   */
  function relay(
    method: ForwardedMethod,
    params: unknown,
    ctx: ServerContext,
    options: { target?: string; reach?: () => void; absent?: Result; unserved?: () => BulkheadError } = {},
  ): Promise<Result> {
    const args = (params ?? {}) as Record<string, unknown>;
    return relayRequest(context, deps, { method, params: args, reach: options.reach }, async (admitted) => {
      try {
        return await admitted(() => forward(method, args, ctx, options.target ?? ''));
      } catch (error) {
        if (!(error instanceof ProtocolError) || error.code !== METHOD_NOT_FOUND) throw error;
        if (options.absent) return options.absent;
        if (options.unserved) throw protocolErrorFor(options.unserved());
        throw error;
      }
    });
  }

  const refuse = (error: BulkheadError): never => {
    throw protocolErrorFor(error);
  };
  const reachesPrompt = (name: string) => () => {
    const pack = packOfExposed(name);
    if (!pack || !packs().includes(pack) || !approvedPrompts().has(name))
      refuse(new BulkheadError('unknown_prompt', `Unknown prompt: ${name}`));
  };

  server.setRequestHandler('resources/list', async (request, ctx) => {
    if (packs().length === 0) return { resources: [] };
    const result = (await relay('resources/list', request.params, ctx, { absent: {} })) as {
      resources?: Item[];
    };
    return { ...result, resources: fromPacks(result.resources, packs(), false) } as never;
  });
  server.setRequestHandler('resources/templates/list', async (request, ctx) => {
    if (packs().length === 0) return { resourceTemplates: [] };
    const result = (await relay('resources/templates/list', request.params, ctx, { absent: {} })) as {
      resourceTemplates?: Item[];
    };
    return { ...result, resourceTemplates: fromPacks(result.resourceTemplates, packs(), false) } as never;
  });
  server.setRequestHandler('resources/read', async (request, ctx) => {
    const { uri } = request.params;
    const unserved = () => new BulkheadError('unknown_resource', `Resource not found: ${uri}`);
    const reach = () => {
      if (packs().length === 0) refuse(unserved());
    };
    return (await relay('resources/read', request.params, ctx, { target: uri, reach, unserved })) as never;
  });
  server.setRequestHandler('prompts/list', async (request, ctx) => {
    if (packs().length === 0) return { prompts: [] };
    const result = (await relay('prompts/list', request.params, ctx, { absent: {} })) as { prompts?: Item[] };
    const listed = fromPacks(result.prompts, packs(), true);
    return { ...result, prompts: approvedCopies(listed, approvedPrompts(), context.log) } as never;
  });
  server.setRequestHandler('prompts/get', async (request, ctx) => {
    const { name } = request.params;
    return (await relay('prompts/get', request.params, ctx, {
      target: name,
      reach: reachesPrompt(name),
    })) as never;
  });
  server.setRequestHandler('completion/complete', async (request, ctx) => {
    const { ref } = request.params;
    if (ref.type !== 'ref/prompt' && packs().length === 0) return { completion: { values: [] } };
    const target = ref.type === 'ref/prompt' ? ref.name : ref.uri;
    const reach = ref.type === 'ref/prompt' ? reachesPrompt(ref.name) : undefined;
    return (await relay('completion/complete', request.params, ctx, {
      target,
      // A resource template no pack serves has nothing to complete, as when there are no packs
      // (above): not the runtime failing, which its "method not found" was counted as.
      ...(reach ? { reach } : { absent: { completion: { values: [] } } }),
    })) as never;
  });
  server.setRequestHandler('logging/setLevel', async (request, ctx) => {
    const session = ctx.http?.req?.headers.get('mcp-session-id');
    try {
      if (session) await deps.sessions?.setLogLevel(session, request.params.level);
    } catch (error) {
      // Redis did not answer: a transient refusal, as for every other Redis step of a request, where
      // the SDK answered an internal error in the Redis client's words ("Command timed out").
      throw protocolErrorFor(stateUnavailable(error));
    }
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
