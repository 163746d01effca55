// The reference pack: the records tools as an MCP server over stdio, started and confined by the
// runtime's pack host like every pack (runtime-image/src/packs/). Its working directory is its own
// directory on the tenant's volume (/data/packs/records/), which holds its SQLite database. The
// runtime names the caller in `_meta["io.bulkhead/actor"]` (a record's createdBy) and gives the
// idempotency window as `--idempotency-window-ms=<n>` after the manifest's command.
import { join } from 'node:path';
import { Server } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { toolError } from '../../../kernel/tools/tool-errors.ts';
import { ACTOR_META_KEY, RECORDS_DB } from '../packs/reference-meta.ts';
import { callRecordsTool, RECORDS_WIRE } from './records-calls.ts';
import { RecordsStore } from './records-store.ts';
import manifest from './bulkhead-pack.json' with { type: 'json' };

const WINDOW_ARG = '--idempotency-window-ms=';
const windowArg = process.argv.find((arg) => arg.startsWith(WINDOW_ARG));
const idempotencyWindowMs = Number(windowArg?.slice(WINDOW_ARG.length));
if (!Number.isSafeInteger(idempotencyWindowMs) || idempotencyWindowMs <= 0) {
  console.error(`records pack: ${WINDOW_ARG}<ms> is required`);
  process.exit(2);
}

const store = new RecordsStore(join(process.cwd(), RECORDS_DB), { idempotencyWindowMs });
const server = new Server(
  { name: manifest.name, version: manifest.version },
  { capabilities: { tools: { listChanged: false } } },
);
server.setRequestHandler('tools/list', () => Promise.resolve({ tools: RECORDS_WIRE }));
server.setRequestHandler('tools/call', (request) => {
  const actor = request.params._meta?.[ACTOR_META_KEY];
  // Only the runtime speaks to this process: a call without the caller's name is its bug.
  if (typeof actor !== 'string' || actor.length === 0)
    return Promise.resolve(toolError('invalid_arguments', `no ${ACTOR_META_KEY} in the call's _meta`));
  return Promise.resolve(callRecordsTool(store, request.params.name, request.params.arguments ?? {}, actor));
});
const transport = new StdioServerTransport();
// The runtime closing stdin (or being gone) ends the pack; every write was committed in its call.
transport.onclose = () => {
  store.close();
  process.exit(0);
};
server.connect(transport).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
