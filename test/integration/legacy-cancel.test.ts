// A 2025 client cancels a request by POSTing `notifications/cancelled` on its session, its answer
// stream left open; the router answers every POST of a 2025 session with a server of its own
// (router/mcp/mcp-endpoint.ts), so the cancellation reached a server that had no such request, and
// the request it named went on: its exchange with the runtime stayed open until the call deadline
// (the pack never told), the runtime's notifications and questions kept coming to a client that had
// given the request up. Here a process of the tenant takes its runtime over and holds two requests
// open, a tools/call and a resources/read, noting when the router hangs up on each; a stock SDK v2
// client of the 2025 era cancels them through the real router in this process.
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeOverRecords } from '../support/answering-runtime.ts';
import type { HostileProcess } from '../support/hostile-runtime.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { until } from '../support/until.ts';

const TENANT = 'cancelling';
/** The router's deadline for a call: a request it does not end before is ended at this. */
const CALL_TIMEOUT_MS = 20_000;

/**
 * The runtime: a `records_list` of limit 1 and a read of `held://` are held open after a log
 * message, and the time the router hung up on each is noted; a `records_list` of limit 2 answers
 * what was noted (an error result: the tool's output schema does not hold it to its shape).
 */
const HANDLER = String.raw`({ tools }) => {
  const hungUp = [];
  return (req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('{"ok":true}');
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const { id, method, params } = JSON.parse(Buffer.concat(chunks).toString());
      const send = (message) => res.write('data: ' + JSON.stringify(message) + '\n\n');
      const complete = (result) => { send({ jsonrpc: '2.0', id, result: { resultType: 'complete', ...result } }); res.end(); };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (method === 'tools/list') return complete({ tools });
      const held = method === 'resources/read' ? params.uri === 'held://' : params.arguments?.limit === 1;
      if (held) {
        const started = Date.now();
        res.on('close', () => hungUp.push({ method, afterMs: Date.now() - started }));
        return void send({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'held' } });
      }
      complete({ isError: true, content: [{ type: 'text', text: JSON.stringify(hungUp) }] });
    });
  };
}`;

let stack: TestStack;
let hostile: HostileProcess | undefined;

beforeAll(async () => {
  stack = await startTestStack('legacy-cancel', { callTimeoutMs: CALL_TIMEOUT_MS });
  await stack.onboard(TENANT);
  hostile = await takeOverRecords(stack, TENANT, HANDLER);
}, 180_000);

afterAll(async () => {
  hostile?.stop();
  await stack?.close();
});

/** A stock SDK v2 client of the tenant's agent, 2025 era (a session), that notes its log messages. */
async function legacyClient(logged: unknown[]): Promise<Client> {
  const token = await stack.agentToken(TENANT);
  const client = new Client({ name: 'cancelling', version: '1' });
  client.setNotificationHandler('notifications/message', (message) => void logged.push(message.params.data));
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

/** When the router hung up on the runtime's held requests, as the runtime noted it. */
async function hungUp(client: Client): Promise<{ method: string; afterMs: number }[]> {
  const result = await client.callTool({ name: 'records_list', arguments: { limit: 2 } });
  return JSON.parse((result.content as { text: string }[])[0]!.text) as { method: string; afterMs: number }[];
}

const HELD = {
  'tools/call': (client: Client, signal: AbortSignal) =>
    client.callTool({ name: 'records_list', arguments: { limit: 1 } }, { signal }),
  'resources/read': (client: Client, signal: AbortSignal) =>
    client.readResource({ uri: 'held://' }, { signal }),
};

describe("a 2025 client's cancel", () => {
  it.each(['tools/call', 'resources/read'] as const)(
    'ends its %s: the router hangs up on the runtime at once, not at the call deadline',
    async (method) => {
      const logged: unknown[] = [];
      const client = await legacyClient(logged);
      try {
        expect(client.getNegotiatedProtocolVersion()).not.toBe('2026-07-28');
        const before = (await hungUp(client)).filter((h) => h.method === method).length;
        const abort = new AbortController();
        const held = HELD[method](client, abort.signal);
        held.catch(() => undefined);
        // The request reached the runtime (tools/call relays its log message): then the client cancels.
        if (method === 'tools/call') await until(() => logged.includes('held'), 'the held call to be logged');
        else await new Promise((resolve) => setTimeout(resolve, 1_000));
        abort.abort('the user gave up');
        await expect(held).rejects.toThrow();
        // Hung up on within a few seconds of the cancel; before, only at the call deadline (20 s).
        await expect
          .poll(async () => (await hungUp(client)).filter((h) => h.method === method).length, {
            timeout: 5_000,
            interval: 250,
          })
          .toBe(before + 1);
      } finally {
        await client.close();
      }
    },
    60_000,
  );
});
