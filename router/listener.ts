// The router's HTTP listener. Some requests never reach the app: Node's HTTP parser refuses them
// first (headers past its bound, 16 KiB by default, which one long bearer token reaches; a body
// framed two ways; a request line that is no HTTP), and answers on its own with a bare status line
// and no body. A client then learns nothing it can act on, where every other refusal of the router
// is a JSON-RPC error of the error table. So the listener answers these too, with the same status
// Node gives and the error body of the table's row (router/mcp/json-rpc.ts).
import { once } from 'node:events';
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import { BulkheadError } from '../kernel/errors/bulkhead-error.ts';
import { jsonRpcAnswer } from './mcp/json-rpc.ts';

/** The refusal of a request Node's parser failed on, by the parser's error code (Node's own cases). */
function refusalFor(code: string | undefined): BulkheadError {
  if (code === 'HPE_HEADER_OVERFLOW')
    return new BulkheadError(
      'headers_too_large',
      'Request Header Fields Too Large: the headers exceed the bound',
    );
  return new BulkheadError('malformed_request', 'Bad Request: the HTTP request is malformed');
}

/**
 * Answers a client error Node raised on `socket` as Node would (a status line, then the connection
 * closed), with a JSON-RPC error body. Nothing is written once a response on the socket has begun
 * (its bytes would corrupt it), nor to a peer already gone; a request timeout keeps Node's 408.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (error.code === 'ECONNRESET' || !socket.writable || started) {
    socket.destroy();
    return;
  }
  // Closed once written, as Node closes it: the rest of the request is never read.
  const close = (): void => void socket.destroy();
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n', close);
    return;
  }
  const { status, body } = jsonRpcAnswer(refusalFor(error.code));
  const text = JSON.stringify(body);
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(text)}`,
    'Connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${text}`, close);
}

/** Listens with the app, answering the requests Node's parser refuses with structured errors. */
export async function listenRouter(app: Express, options: { port: number; host: string }): Promise<Server> {
  const server = app.listen(options.port, options.host);
  server.on('clientError', answerClientError);
  await once(server, 'listening');
  return server;
}
