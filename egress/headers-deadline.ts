// The deadline for a proxy request's headers (docs/egress.md, "Bounds"). Node enforces
// a server's own headersTimeout only once the server listens (that starts its connection checker);
// the gateway's proxy never listens, it is handed each tunnel (egress/gateway.ts), so the option
// did nothing there. Here a request's headers must come within the deadline of the connection, or
// of the answer to the request before, or the connection ends: else a tenant could hold each of
// its connections open sending nothing, or a byte at a time, every one a descriptor of the shared
// gateway and one of its BULKHEAD_EGRESS_MAX_CONNECTIONS.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export function enforceHeadersDeadline(server: Server, deadlineMs: number): void {
  const timers = new WeakMap<Socket, NodeJS.Timeout>();
  /** Requests of a connection not answered yet: no deadline runs while one is. */
  const open = new WeakMap<Socket, number>();
  const disarm = (socket: Socket): void => clearTimeout(timers.get(socket));
  const arm = (socket: Socket): void => {
    disarm(socket);
    timers.set(
      socket,
      setTimeout(() => socket.destroy(), deadlineMs),
    );
  };
  server.on('connection', (socket: Socket) => {
    arm(socket);
    socket.once('close', () => disarm(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    disarm(socket);
    open.set(socket, (open.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (open.get(socket) ?? 1) - 1;
      open.set(socket, left);
      if (left === 0 && !socket.destroyed) arm(socket);
    });
  });
  // A tunnel has its own idle timeout (egress/proxy.ts).
  server.on('connect', (req: IncomingMessage) => disarm(req.socket));
}
