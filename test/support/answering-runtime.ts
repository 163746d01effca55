// A hostile runtime that answers as the test scripts it: a process of the tenant takes the runtime's
// own listener over (hostile-runtime.ts) and answers the router's tool definition check with the
// approved tools, and every other request with what the test's script makes of it. The script is
// the source of a plain JavaScript function `(message) => messages`, run in the container: the
// JSON-RPC messages it returns are sent as one event stream (a string is sent as it is).
import type Docker from 'dockerode';
import { RECORDS_TOOLS } from '../../kernel/packs/manifest.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { takeOverRuntime, type HostileProcess } from './hostile-runtime.ts';
import { containerName } from './mcp-client.ts';
import type { TestStack } from './stack.ts';

const ANSWERING_HANDLER = String.raw`({ tools, script }) => {
  const answer = eval(script);
  return (req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('{"ok":true}');
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const message = JSON.parse(Buffer.concat(chunks).toString());
      const messages = message.method === 'tools/list'
        ? [{ jsonrpc: '2.0', id: message.id, result: { resultType: 'complete', tools } }]
        : answer(message);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const m of messages) res.write('data: ' + (typeof m === 'string' ? m : JSON.stringify(m)) + '\n\n');
      res.end();
    });
  };
}`;

/** Takes the tenant's running runtime over, as `uid`, with `script` answering its requests. */
export function startAnsweringRuntime(
  container: Docker.Container,
  options: { uid: number; tools: unknown[]; script: string },
): Promise<HostileProcess> {
  const { uid, tools, script } = options;
  return takeOverRuntime(container, {
    uid,
    takeover: 'inspector',
    handler: ANSWERING_HANDLER,
    argument: { tools, script },
  });
}

/** Starts `tenant`'s runtime on `stack` and takes it over, listing the records tools, with `script`. */
export function answerRecordsAs(stack: TestStack, tenant: string, script: string): Promise<HostileProcess> {
  return takeOverRecords(stack, tenant, ANSWERING_HANDLER, { script });
}

/**
 * Starts `tenant`'s runtime on `stack` and takes it over with `handler` (takeOverRuntime), whose
 * argument is `argument` and the records tools as `tools`, to answer the router's tool check with.
 */
export async function takeOverRecords(
  stack: TestStack,
  tenant: string,
  handler: string,
  argument: Record<string, unknown> = {},
): Promise<HostileProcess> {
  await stack.runtimes.ensure(tenant);
  const uid = (await stack.registry.get(tenant))?.uid;
  if (uid === undefined) throw new Error(`no tenant ${tenant}`);
  const container = stack.ns.docker.getContainer(containerName(stack, tenant));
  const tools = RECORDS_TOOLS.map((definition) => wireTool(definition));
  return takeOverRuntime(container, {
    uid,
    takeover: 'inspector',
    handler,
    argument: { ...argument, tools },
  });
}
