// The router, never the runtime, ends an idle keep-alive connection between them
// (kernel/wire/keep-alive.ts): a runtime that closed an idle connection while the router was writing
// its next request on it failed that call as interrupted although nothing ran (the 1,000-agent soak:
// 251 such refusals, the router's event loop stalling for seconds and reading the close too late).
// The same between an agent's client and the router's listener (5 x ECONNRESET/UND_ERR_SOCKET in
// the soak's load generator). A real runtime container, the router as it listens: one request on a
// connection, then the connection idle for longer than Node's default server keep-alive (5 s) and
// longer than the client's own idle timeout, then a second request on the same connection.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRuntimeSocket } from '../../supervisor/client/runtime-socket.ts';
import { KEEP_ALIVE } from '../../kernel/wire/keep-alive.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'keepalive';
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('keepalive');
  await stack.onboard(TENANT);
});

afterAll(async () => {
  await stack?.close();
});

/** One GET /healthz on the connection; resolves with the status line. */
function healthz(socket: Socket, host = 'tenant'): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length - head - 4 < length) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(text.split('\r\n')[0]!);
    };
    const onClose = () => reject(new Error('the runtime closed the connection'));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

describe('an idle connection to a runtime', () => {
  it('is kept by the runtime longer than the router keeps it', async () => {
    const endpoint = await stack.runtimes.ensure(TENANT);
    if (endpoint.kind !== 'unix') throw new Error('a unix socket endpoint was expected');
    const socket = connectRuntimeSocket(endpoint);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    try {
      await idleAndAskAgain(socket);
    } finally {
      socket.destroy();
    }
  }, 60_000);
});

/** Waits, idle, for longer than the client's idle timeout; then the connection must be open. */
async function idleAndAskAgain(socket: Socket, host?: string): Promise<void> {
  let closedBy: 'server' | undefined;
  socket.once('end', () => (closedBy = 'server'));
  expect(await healthz(socket, host)).toBe('HTTP/1.1 200 OK');
  const idleMs = Math.max(5_000, KEEP_ALIVE.routerIdleMs) + 1_500;
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  expect(closedBy).toBeUndefined();
  expect(await healthz(socket, host)).toBe('HTTP/1.1 200 OK');
}

describe("an idle connection to the router's listener", () => {
  it('is kept by the router longer than an agent keeps it', async () => {
    const { hostname, port } = new URL(stack.mcpUrl);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    try {
      await idleAndAskAgain(socket, `${hostname}:${port}`);
    } finally {
      socket.destroy();
    }
  }, 60_000);
});
