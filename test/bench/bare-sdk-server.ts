// A bare SDK v2 server for the benchmarks' peers and floors (router-peer.ts, write-floor.ts): the
// SDK's own handler (`createMcpHandler`, stateless, no authentication), a fresh server per request
// with the handlers `setUp` gives it, on plain node:http on loopback, port 0.
import { createServer, type Server as HttpServer } from 'node:http';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, Server } from '@modelcontextprotocol/server';

export interface BareSdkServer {
  /** Its MCP endpoint. */
  url: string;
  close(): Promise<void>;
}

/** Around each request's answer: `answer()` hands the request to the SDK and resolves with its Response. */
export type AroundAnswer = (request: Request, answer: () => Promise<Response>) => Promise<Response>;

/** `setUp` gets the request its server answers; `around` (default: none) wraps each answer. */
export async function serveBareSdk(
  name: string,
  setUp: (server: Server, request: Request | undefined) => void,
  around?: AroundAnswer,
): Promise<BareSdkServer> {
  const mcp = createMcpHandler(({ requestInfo }) => {
    const server = new Server({ name, version: '1.0.0' }, { capabilities: { tools: {} } });
    setUp(server, requestInfo);
    return server;
  });
  const handle = toNodeHandler(
    around ? { fetch: (request, options) => around(request, () => mcp.fetch(request, options)) } : mcp,
  );
  const http: HttpServer = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  if (typeof address !== 'object' || !address) throw new Error(`${name} did not bind`);
  return {
    url: `http://127.0.0.1:${address.port}/mcp`,
    async close() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      await mcp.close();
    },
  };
}
