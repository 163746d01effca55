// A unix-socket relay in front of a Redis of the test's own that can go silent after a chosen
// command: it passes bytes both ways until a client sends one that contains `after`, passes that
// command's answer, and from then on passes nothing on any connection, all of them left open. So
// a test sees Redis stop answering at an exact point of a request (after its session read), which
// a SIGSTOP of the server cannot place (private-redis.ts `freeze` stops it at once).
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export interface FreezingProxy {
  /** The socket to give clients (a unix:// Redis URL's path). */
  socketPath: string;
  /** Goes silent once a command containing `marker` has been answered. */
  freezeAfter(marker: string): void;
  /** Passes bytes again, what was held first. */
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezingProxy(options: { target: string; dir: string }): Promise<FreezingProxy> {
  const socketPath = join(options.dir, 'proxy.sock');
  let marker: string | undefined;
  let frozen = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket, watch: boolean, armed: { on: boolean }): void => {
    from.on('data', (chunk: Buffer) => {
      const send = (): void => void to.write(chunk);
      if (frozen) return void held.push(send);
      send();
      if (watch && marker !== undefined && chunk.includes(marker)) armed.on = true;
      else if (!watch && armed.on) {
        armed.on = false;
        frozen = true;
      }
    });
    from.on('close', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection(options.target);
    const armed = { on: false };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
    }
    relay(client, upstream, true, armed);
    relay(upstream, client, false, armed);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    freezeAfter(text) {
      marker = text;
    },
    thaw() {
      marker = undefined;
      frozen = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
