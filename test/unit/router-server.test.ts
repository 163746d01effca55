// The per-request MCP server lets go of its request once the exchange is closed: the SDK keeps a
// closed server reachable until a full garbage collection (router/mcp/router-server.ts), so it must
// no longer hold the handlers that hold the request's context.
import { InMemoryTransport, SdkError, SdkErrorCode, Server } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createRouterServer, type RouterServerDeps } from '../../router/mcp/router-server.ts';
import type { RequestContext } from '../../router/request/request-context.ts';
import { AnswerHold } from '../../router/request/answer-hold.ts';
import { testPrincipal } from '../support/principal.ts';
import { MCP_REQUEST_METHODS } from '../../kernel/wire/mcp-methods.ts';

const CAPABILITIES = {
  tools: { listChanged: true },
  resources: {},
  prompts: {},
  completions: {},
  logging: {},
};

/** The methods a server has a request handler for (the SDK refuses to set a second one). */
function handled(server: Server): string[] {
  return MCP_REQUEST_METHODS.filter((method) => {
    try {
      server.assertCanSetRequestHandler(method);
      return false;
    } catch {
      return true;
    }
  });
}

function requestContext(): RequestContext {
  return {
    principal: testPrincipal(),
    tenant: undefined,
    body: undefined,
    served: [],
    visible: () => [],
    call: undefined,
    log: pino({ level: 'silent' }),
    answer: new AnswerHold(),
    alone: () => false,
  };
}

describe('the per-request router server', () => {
  it('keeps none of the request’s handlers once its exchange is closed', async () => {
    // No handler runs here: the dependencies are never reached.
    const server = createRouterServer(requestContext(), {} as RouterServerDeps);
    const ours = handled(server);
    expect(ours).toEqual(
      expect.arrayContaining(['tools/list', 'tools/call', 'resources/read', 'logging/setLevel']),
    );
    // As the SDK's per-request handler does: its own onclose calls the one the factory set.
    const previous = server.onclose;
    let sdkCloseRan = false;
    server.onclose = () => {
      sdkCloseRan = true;
      previous?.();
    };
    const [serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    await server.close();
    expect(sdkCloseRan).toBe(true);
    // What is left is the SDK's own (a bare server has each of them); every handler of ours is gone.
    const bare = handled(new Server({ name: 'bare', version: '1' }, { capabilities: CAPABILITIES }));
    const left = handled(server);
    expect(left).toEqual(expect.arrayContaining(['initialize', 'ping']));
    for (const method of left) expect(bare).toContain(method);
    expect(left).not.toContain('tools/call');
  });

  it('fails what waits on a closed exchange with the SDK’s error, and leaves stack traces as they were', async () => {
    const server = createRouterServer(requestContext(), {} as RouterServerDeps);
    const [serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    // A request of the server's own to its client, never answered: the close fails it.
    const pending = server.ping().catch((error: unknown) => error);
    const limit = Error.stackTraceLimit;
    await server.close();
    const error = await pending;
    expect(error).toBeInstanceOf(SdkError);
    expect(error).toMatchObject({ code: SdkErrorCode.ConnectionClosed, message: 'Connection closed' });
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error('after').stack).toContain('router-server.test.ts');
  });
});
