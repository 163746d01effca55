// The records tool pack inside the tenant runtime. Tool definitions come from the approved manifest
// (the router pins their digests: a changed definition here would be withheld). Every call is
// validated again with the router's own procedure; a call that fails it is counted, because none
// should ever arrive: the count on /healthz is the proof. Writes run through keyedWrite so the
// idempotency key commits with the write.
import {
  Server,
  type CallToolResult,
  type InputRequiredResult,
  type ServerContext,
  type Tool,
} from '@modelcontextprotocol/server';
import type { CallContext } from '../../kernel/wire/call-assertion.ts';
import { RECORDS_TOOLS, type RecordRow } from '../../kernel/packs/manifest.ts';
import {
  argumentsDigest,
  IDEMPOTENCY_KEY_FIELD,
  wireTool,
  type ToolDefinition,
} from '../../kernel/tools/tool-definition.ts';
import { toolError, toolErrorFor } from '../../kernel/tools/tool-errors.ts';
import { validateToolArguments } from '../../kernel/tools/tool-validation.ts';
import { traceToolCall, type CallTrace } from './tracing/call-tracer.ts';
import { DuplicateRefError, type RecordInput, type RecordPatch, type RecordsStore } from './records-store.ts';

export interface RuntimeCounters {
  calls: number;
  /** Calls that failed the runtime's own validation: the router should have stopped every one. */
  invalid_calls: number;
}

export interface RecordsServerOptions {
  store: RecordsStore;
  context: CallContext;
  counters: RuntimeCounters;
  /** Test builds only: called after a write commits and before its response is sent. */
  afterCommit?: () => void;
  /** The tenant's packs (runtime-image/src/packs/): their tools are served next to the records tools. */
  packs?: ExtraTools;
  /** The call's trace, when the router traces it: each tool call, a pack's too, gets a span. */
  trace?: CallTrace | undefined;
}

/** Tools served next to the records tools, with the capabilities and handlers they bring. */
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

type Handler = (args: Record<string, unknown>, actor: string) => Record<string, unknown> | CallToolResult;

function ok(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

function notFound(id: unknown): CallToolResult {
  return toolError('unknown_id', `no record with id ${String(id)} in this tenant`);
}

function createItems(store: RecordsStore, items: RecordInput[], actor: string): Record<string, unknown> {
  const results = items.map((item, index) => {
    try {
      return { index, status: 'created' as const, record: store.savepoint(() => store.create(item, actor)) };
    } catch (error) {
      if (!(error instanceof DuplicateRefError)) throw error;
      return {
        index,
        status: 'failed' as const,
        error: { error_class: error.errorClass, code: error.code, message: error.message },
      };
    }
  });
  const succeeded = results.filter((r) => r.status === 'created').length;
  const failed = results.length - succeeded;
  const status = failed === 0 ? 'ok' : succeeded === 0 ? 'failed' : 'partial';
  return { status, total: results.length, succeeded, failed, results };
}

function update(
  store: RecordsStore,
  args: Record<string, unknown>,
): Record<string, unknown> | CallToolResult {
  const { id, ...patch } = args as { id: string } & RecordPatch;
  const current = store.get(id);
  if (!current) return notFound(id);
  const next: RecordRow = { ...current, ...patch };
  // The router checked the pair when both came in the call; a single date meets the stored one here.
  if (next.start_date && next.due_date && next.start_date > next.due_date) {
    return toolError('date_order', `start_date ${next.start_date} would be after due_date ${next.due_date}`);
  }
  try {
    return { record: store.update(id, next) };
  } catch (error) {
    if (!(error instanceof DuplicateRefError)) throw error;
    return toolErrorFor(error);
  }
}

const HANDLERS: Record<string, (store: RecordsStore) => Handler> = {
  records_create: (store) => (args, actor) => {
    try {
      return { record: store.create(args as unknown as RecordInput, actor) };
    } catch (error) {
      if (!(error instanceof DuplicateRefError)) throw error;
      return toolErrorFor(error);
    }
  },
  records_bulk_create: (store) => (args, actor) => createItems(store, args.items as RecordInput[], actor),
  records_update: (store) => (args) => update(store, args),
  records_delete: (store) => (args) =>
    store.delete(args.id as string) ? { deleted: args.id } : notFound(args.id),
  records_get: (store) => (args) => {
    const record = store.get(args.id as string);
    return record ? { record } : notFound(args.id);
  },
  records_list: (store) => (args) => ({
    records: store.list(
      args.limit as number,
      args.after as string | undefined,
      args.due_before as string | undefined,
      args.order === 'newest_first',
    ),
  }),
};

function asResult(value: Record<string, unknown> | CallToolResult): CallToolResult {
  return 'isError' in value || 'content' in value ? (value as CallToolResult) : ok(value);
}

const DEFINITIONS = new Map<string, ToolDefinition>(RECORDS_TOOLS.map((def) => [def.name, def]));
const WIRE = RECORDS_TOOLS.map(wireTool);

export function createRecordsServer(options: RecordsServerOptions): Server {
  const { store, context, counters } = options;
  const { packs } = options;
  const server = new Server(
    { name: 'bulkhead-tenant-runtime', version: '1.1.0' },
    { capabilities: { tools: { listChanged: false }, ...packs?.capabilities } },
  );
  const actor = context.user ?? `agent:${context.agent}`;

  server.setRequestHandler('tools/list', () =>
    Promise.resolve({ tools: packs ? [...WIRE, ...packs.tools()] : WIRE }),
  );
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

  function callTool(
    request: { params: { name: string; arguments?: Record<string, unknown> | undefined } },
    ctx: ServerContext,
    toolTrace: CallTrace | undefined,
  ): Promise<CallToolResult | InputRequiredResult> {
    counters.calls += 1;
    const packCall = packs?.call(request.params.name, request.params, ctx, toolTrace);
    if (packCall) return packCall;
    const def = DEFINITIONS.get(request.params.name);
    const handlerFor = HANDLERS[request.params.name];
    if (!def || !handlerFor) {
      counters.invalid_calls += 1;
      return Promise.resolve(toolError('unknown_tool', `no tool ${request.params.name}`));
    }
    const checked = validateToolArguments(def, request.params.arguments ?? {});
    if (!checked.ok) {
      counters.invalid_calls += 1;
      return Promise.resolve(checked.error);
    }
    const handler = handlerFor(store);
    if (!def.writes) return Promise.resolve(asResult(handler(checked.args, actor)));
    const { [IDEMPOTENCY_KEY_FIELD]: key, ...args } = checked.args;
    const outcome = store.keyedWrite(def.name, key as string, argumentsDigest(args), () =>
      asResult(handler(args, actor)),
    );
    if (outcome.kind === 'conflict') {
      return Promise.resolve(
        toolError('idempotency_key_reused', 'this idempotency key was used with other arguments'),
      );
    }
    if (outcome.kind === 'fresh') options.afterCommit?.();
    return Promise.resolve(JSON.parse(outcome.resultJson) as CallToolResult);
  }
  return server;
}
