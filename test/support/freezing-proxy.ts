// A unix-socket relay in front of a Redis of the test's own that can go silent at a chosen
// command: it passes bytes both ways until a client sends one that contains a marker, then (with
// `freezeAfter`) passes that command's answer, or (with `freezeAt`) holds that command itself, and
// from then on passes nothing on any connection, all of them left open. So a test sees Redis stop
// answering at an exact point of a request (after its session read, at a job's submission), which
// a SIGSTOP of the server cannot place (private-redis.ts `freeze` stops it at once). Or (with
// `cutAfter`) it passes the command to Redis, drops its answer and closes that connection: the
// client cannot tell whether the command ran (it did), as when a connection drops mid-command.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateRedis, type PrivateRedis } from './private-redis.ts';

export interface FreezingProxy {
  /** The socket to give clients (a unix:// Redis URL's path). */
  socketPath: string;
  /** Goes silent once a command containing `marker` has been answered. */
  freezeAfter(marker: string): void;
  /** Goes silent at the command containing `marker`: it is held, unanswered, with what follows. */
  freezeAt(marker: string): void;
  /** Passes the next command containing `marker` to Redis, then drops its answer and the connection. */
  cutAfter(marker: string): void;
  /** Stops listening: a client connecting now is refused (those connected keep their connections). */
  refuseConnections(): void;
  /** Listens again. */
  acceptConnections(): Promise<void>;
  /** Passes bytes again, what was held first. */
  thaw(): void;
  close(): Promise<void>;
}

export async function startFreezingProxy(options: { target: string; dir: string }): Promise<FreezingProxy> {
  const socketPath = join(options.dir, 'proxy.sock');
  let marker: string | undefined;
  let holdFrom: string | undefined;
  let frozen = false;
  let cut: string | undefined;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket, watch: boolean, armed: { on: boolean; cut?: true }): void => {
    from.on('data', (chunk: Buffer) => {
      // The answer to the command cut: never passed on, the client's connection closed instead.
      if (!watch && armed.cut) {
        from.destroy();
        to.destroy();
        return;
      }
      if (watch && cut !== undefined && chunk.includes(cut)) {
        cut = undefined;
        armed.cut = true;
      }
      const send = (): void => void to.write(chunk);
      if (watch && holdFrom !== undefined && chunk.includes(holdFrom)) frozen = true;
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
    const armed: { on: boolean; cut?: true } = { on: false };
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
    freezeAt(text) {
      holdFrom = text;
    },
    cutAfter(text) {
      cut = text;
    },
    refuseConnections() {
      server.close();
    },
    async acceptConnections() {
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    },
    thaw() {
      marker = undefined;
      holdFrom = undefined;
      frozen = false;
      for (const send of held.splice(0)) send();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A redis-server of the test's own (private-redis.ts) behind a FreezingProxy. */
export interface RelayedRedis {
  server: PrivateRedis;
  proxy: FreezingProxy;
  password: string;
  /** The temporary directory of the relay's socket (and of whatever else the test keeps). */
  dir: string;
  /** The Redis URL through the relay. */
  url: string;
  /** Thaws the relay, closes it, stops the server and removes the directory. */
  close(): Promise<void>;
}

export async function startRelayedRedis(name: string): Promise<RelayedRedis> {
  const password = randomBytes(12).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), `bulkhead-${name}-`));
  const server = await startPrivateRedis({ name, password, unixSocket: true });
  const proxy = await startFreezingProxy({ target: server.socketPath!, dir });
  return {
    server,
    proxy,
    password,
    dir,
    url: `unix://:${password}@localhost${proxy.socketPath}`,
    async close() {
      proxy.thaw();
      await proxy.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
