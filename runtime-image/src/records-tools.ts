// The records tool pack, implemented against the approved manifest's schemas.
import { McpServer, type CallToolResult } from '@modelcontextprotocol/server';
import type { CallContext } from '../../tenants/contracts/call-assertion.ts';
import {
  RecordIdInput,
  RecordsCreateInput,
  RecordsListInput,
  RecordsUpdateInput,
  RECORDS_TOOLS,
} from '../../tenants/contracts/tool-manifest.ts';
import { toolError } from '../../tenants/contracts/tool-errors.ts';
import type { RecordsStore } from './records-store.ts';

function ok(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value };
}

function notFound(id: string): CallToolResult {
  return toolError('permanent', 'not_found', `no record with id ${id}`);
}

function describe(name: string): { title: string; description: string } {
  const tool = RECORDS_TOOLS.find((t) => t.name === name);
  if (!tool) throw new Error(`tool ${name} is not in the manifest`);
  return { title: tool.title, description: tool.description };
}

export function createRecordsServer(store: RecordsStore, context: CallContext): McpServer {
  const server = new McpServer({ name: 'bulkhead-tenant-runtime', version: '1.0.0' });
  const actor = context.user ?? `agent:${context.agent}`;

  server.registerTool(
    'records_create',
    { ...describe('records_create'), inputSchema: RecordsCreateInput },
    (input) => ok({ record: store.create(input, actor) }),
  );
  server.registerTool(
    'records_update',
    { ...describe('records_update'), inputSchema: RecordsUpdateInput },
    ({ id, ...patch }) => {
      const record = store.update(id, patch);
      return record ? ok({ record }) : notFound(id);
    },
  );
  server.registerTool(
    'records_delete',
    { ...describe('records_delete'), inputSchema: RecordIdInput },
    ({ id }) => (store.delete(id) ? ok({ deleted: id }) : notFound(id)),
  );
  server.registerTool('records_get', { ...describe('records_get'), inputSchema: RecordIdInput }, ({ id }) => {
    const record = store.get(id);
    return record ? ok({ record }) : notFound(id);
  });
  server.registerTool(
    'records_list',
    { ...describe('records_list'), inputSchema: RecordsListInput },
    ({ limit, after }) => ok({ records: store.list(limit, after) }),
  );
  return server;
}
