// The runtime's MCP server for one request: the tools of its packs, the reference pack's (the
// records tools, runtime-image/src/records-pack/) first. Every records call is validated again with
// the router's own procedure before it goes to the pack; a call that fails it is counted, because
// none should ever arrive: the count on /healthz is the proof.
import {
  Server,
  type CallToolResult,
  type InputRequiredResult,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import type { ToolDefinition } from '../../kernel/tools/tool-definition.ts';
import { toolError } from '../../kernel/tools/tool-errors.ts';
import { validateToolArguments } from '../../kernel/tools/tool-validation.ts';
import { traceToolCall, type CallTrace } from './tracing/call-tracer.ts';

export interface RuntimeCounters {
  calls: number;
  /** Calls that failed the runtime's own validation: the router should have stopped every one. */
  invalid_calls: number;
}

export interface ToolServerOptions {
  context: CallContext;
  counters: RuntimeCounters;
  /** Test builds only: called after a records write is answered and before its response is sent. */
  afterCommit?: () => void;
  /** The tenant's packs (runtime-image/src/packs/), the reference pack among them. */
  packs?: ExtraTools;
  /** The call's trace, when the router traces it: each tool call gets a span. */
  trace?: CallTrace | undefined;
}

/** The packs' tools, with the capabilities and handlers they bring. */
export interface ExtraTools {
  capabilities: Record<string, object>;
  tools(): Tool[];
  /** The call's result, or undefined when the name is not one of these tools. */
  call(
    name: string,
    params: { arguments?: Record<string, unknown> },
    ctx: ServerContext,
    /** The call's trace, its tool's span the parent (tracing/call-tracer.ts). */
    trace?: CallTrace,
  ): Promise<CallToolResult | InputRequiredResult> | undefined;
  install(server: Server): void;
}

const RECORDS = new Map<string, ToolDefinition>(RECORDS_TOOLS.map((def) => [def.name, def]));

/** The caller a records write names as its author. */
export function actorOf(context: CallContext): string {
  return context.user ?? `agent:${context.agent}`;
}

export function createToolServer(options: ToolServerOptions): Server {
  const { counters, packs } = options;
  const server = new Server(
    { name: 'bulkhead-tenant-runtime', version: '1.1.0' },
    { capabilities: { tools: { listChanged: false }, ...packs?.capabilities } },
  );

  server.setRequestHandler('tools/list', () => Promise.resolve({ tools: packs?.tools() ?? [] }));
  packs?.install(server);
  server.setRequestHandler(
    'tools/call',
    (request, ctx) =>
      // The pack is the text before the first "_" of an exposed name (kernel/packs/pack-naming.ts).
      traceToolCall(
        options.trace,
        { name: request.params.name, pack: request.params.name.split('_')[0] },
        (toolTrace) => callTool(request, ctx, toolTrace),
      ) as Promise<CallToolResult>, // or input_required (2026-07-28), which tools/call may answer
  );

  async function callTool(
    request: { params: { name: string; arguments?: Record<string, unknown> | undefined } },
    ctx: ServerContext,
    toolTrace: CallTrace | undefined,
  ): Promise<CallToolResult | InputRequiredResult> {
    counters.calls += 1;
    const def = RECORDS.get(request.params.name);
    if (def) {
      const checked = validateToolArguments(def, request.params.arguments ?? {});
      if (!checked.ok) {
        counters.invalid_calls += 1;
        return checked.error;
      }
    }
    const call = packs?.call(request.params.name, request.params, ctx, toolTrace);
    if (!call) {
      counters.invalid_calls += 1;
      return toolError('unknown_tool', `no tool ${request.params.name}`);
    }
    const result = await call;
    if (def?.writes && !('isError' in result && result.isError === true)) options.afterCommit?.();
    return result;
  }
  return server;
}
