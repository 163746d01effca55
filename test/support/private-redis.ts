// A redis-server of the test's own, on free ports, for what the shared Redis must not be used for:
// a password, ACL users, TLS, SCRIPT FLUSH. Its data lives in a temporary directory and goes with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki } from './test-pki.ts';

export interface PrivateRedisOptions {
  /** Names its temporary directory (`bulkhead-<name>-…`), the test's namespace. */
  name?: string;
  /** The default user's password (`requirepass`). */
  password: string;
  /** Extra ACL users, each a `user` directive's words: `['name', 'on', '>password', '~*', '+@all']`. */
  users?: string[][];
  /** Also listen with TLS, with a certificate for `localhost` and 127.0.0.1 from a fresh CA. */
  tls?: boolean;
  /** Keep the data across `halt`/`resume` (an append-only file, synced on every write). */
  persistent?: boolean;
  /** Also listen on a unix socket in the server's directory (`socketPath`), for its owner only. */
  unixSocket?: boolean;
}

export interface PrivateRedis {
  port: number;
  tlsPort?: number;
  /** The unix socket's path (with `unixSocket`). */
  socketPath?: string;
  /** PEM of the CA that signed the server certificate (with `tls`). */
  caFile?: string;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
  /** Stops the server (as an outage would), keeping its port and data for `resume`. */
  halt(): Promise<void>;
  /** Starts the halted server again on the same port(s), with the same data directory. */
  resume(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open and answers nothing (until `thaw`). */
  freeze(): void;
  thaw(): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function ready(child: ChildProcess): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}):\n${output}`));
    });
  });
}

export async function startPrivateRedis(options: PrivateRedisOptions): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), `bulkhead-${options.name ?? 'private-redis'}-`));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  args.push('--requirepass', options.password);
  for (const user of options.users ?? []) args.push('--user', ...user);
  let tls: { tlsPort: number; caFile: string } | undefined;
  if (options.tls) {
    const files = makeTestPki(dir);
    tls = { tlsPort: await freePort(), caFile: files.ca };
    args.push('--tls-port', String(tls.tlsPort), '--tls-cert-file', files.cert, '--tls-key-file', files.key);
    args.push('--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no');
  }
  if (options.persistent) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  const socketPath = options.unixSocket ? join(dir, 'redis.sock') : undefined;
  if (socketPath) args.push('--unixsocket', socketPath, '--unixsocketperm', '700');
  const launch = async (): Promise<ChildProcess> => {
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await ready(started);
    } catch (error) {
      started.kill('SIGKILL');
      throw error;
    }
    return started;
  };
  const halt = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    // A frozen server (`freeze`) would hold SIGTERM until it is continued.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await exited;
  };
  let child: ChildProcess;
  try {
    child = await launch();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    ...tls,
    ...(socketPath ? { socketPath } : {}),
    halt,
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
    async resume() {
      child = await launch();
    },
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
