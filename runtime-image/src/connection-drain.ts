// How the runtime stops serving without failing a call that never ran. http.Server.close() also
// cuts every idle keep-alive connection at once, and a router may be writing its next request on
// one right then (a session's tools/call right after its initialize): that call would fail as
// interrupted although nothing ran. Here, draining stops listening, makes each answer the last on
// its connection (Connection: close) and ends a connection only once it has been idle for a grace
// period: by then no session of the router is between two requests on it, and the router, told of
// the recycle before the drain began, starts no new session on this runtime.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

export class ConnectionDrain {
  private readonly server: Server;
  /** Connections with no request in progress, and since when. */
  private readonly idleSince = new Map<Socket, number>();
  private draining = false;

  /** Attach before the server listens, so that every connection is known. */
  constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.idleSince.set(socket, performance.now());
      socket.once('close', () => this.idleSince.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket;
      this.idleSince.delete(socket);
      res.once('finish', () => {
        if (!socket.destroyed) this.idleSince.set(socket, performance.now());
      });
    });
  }

  /** Whether a drain has begun: an answer now is its connection's last. */
  get active(): boolean {
    return this.draining;
  }

  /** Stops listening; resolves once every connection has ended. */
  close(options: { idleGraceMs: number }): Promise<void> {
    this.draining = true;
    return new Promise<void>((resolve) => {
      const sweep = setInterval(
        () => {
          const now = performance.now();
          for (const [socket, since] of this.idleSince)
            if (now - since >= options.idleGraceMs) socket.destroy();
        },
        Math.min(100, options.idleGraceMs),
      );
      // net.Server's close: stop listening and wait for the connections, without http's cut.
      NetServer.prototype.close.call(this.server, () => {
        clearInterval(sweep);
        resolve();
      });
    });
  }
}
