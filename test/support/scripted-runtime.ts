// A scripted tenant runtime for the dispatcher's tests: a real HTTP server on a real unix socket in
// a directory of its own. It verifies nothing: each request, its body read whole, goes to the test's
// handler, which answers it as the test needs (hostile answers included).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CALL_ASSERTION_HEADER } from '../../kernel/wire/call-assertion.ts';

export interface ScriptedRequest {
  body: string;
  /** The body, parsed: a JSON-RPC request. */
  message: { id: number; method: string; params: Record<string, unknown> };
  /** The call assertion the dispatcher signed. */
  assertion: string;
  /** Resolves when the request's connection closed before its answer ended. */
  cut: Promise<void>;
}

export interface ScriptedRuntime {
  endpoint: { kind: 'unix'; socketPath: string; uid: number };
  close(): Promise<void>;
}

export async function startScriptedRuntime(
  handle: (request: ScriptedRequest, res: ServerResponse) => void | Promise<void>,
): Promise<ScriptedRuntime> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-scripted-'));
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const cut = new Promise<void>((resolve) => res.on('close', () => !res.writableFinished && resolve()));
      const message = JSON.parse(body) as ScriptedRequest['message'];
      void handle({ body, message, assertion: String(req.headers[CALL_ASSERTION_HEADER]), cut }, res);
    });
  });
  const socketPath = join(dir, 'mcp.sock');
  await new Promise<void>((resolve) => http.listen(socketPath, resolve));
  return {
    endpoint: { kind: 'unix', socketPath, uid: process.getuid?.() ?? 0 },
    async close() {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One message on an event stream answer. */
export const sse = (res: ServerResponse, message: unknown): boolean =>
  res.write(`data: ${JSON.stringify(message)}\n\n`);

/** A complete tools/call result with one text block. */
export const textResult = (id: number, text: string) => ({
  jsonrpc: '2.0',
  id,
  result: { resultType: 'complete', content: [{ type: 'text', text }] },
});
