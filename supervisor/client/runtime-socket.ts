// The one way any Bulkhead process connects to a tenant runtime's unix socket (router calls and tool
// checks, the supervisor's health probes, verify). The tenant owns its socket directory, so whatever
// sits at the socket path is the tenant's choice: a symlink to a host socket, a regular file, a
// FIFO, another UID's socket. Checking the path and then connecting to it would race with a swap,
// so the check and the connection use the same inode:
//   1. open the path with O_PATH | O_NOFOLLOW: a symlink is opened as the link itself (never
//      followed), a FIFO or file is not opened for I/O, and nothing is connected to;
//   2. fstat that descriptor: it must be a socket owned by the tenant's UID;
//   3. connect to /proc/self/fd/<fd>, which the kernel resolves to exactly that inode, whatever the
//      tenant renames or replaces in the directory meanwhile; then close the descriptor.
// A refusal happens before any connection exists, so not a byte reaches the other end.
import { closeSync, constants, fstatSync, openSync, type Stats } from 'node:fs';
import type { RequestOptions } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { RuntimeEndpoint } from '../../kernel/wire/runtime-endpoint.ts';

export type UnixEndpoint = Extract<RuntimeEndpoint, { kind: 'unix' }>;

/** Linux's O_PATH (not in node:fs constants): a descriptor for the inode, opened for nothing. */
const O_PATH = 0o10000000;

/**
 * The error code a tampered socket carries (its row in kernel/errors/error-codes.ts), found through
 * `cause` chains like a system error code.
 */
export const SOCKET_TAMPERED = 'socket_tampered';

export type SocketKind = 'socket' | 'symlink' | 'file' | 'fifo' | 'directory' | 'device' | 'unknown';

export interface SocketInspection {
  kind: SocketKind;
  uid: number;
  gid: number;
}

/** What sits at a runtime's socket path is not the tenant's own socket: a security event. */
export class RuntimeSocketTamperedError extends BulkheadError<typeof SOCKET_TAMPERED> {
  readonly socketPath: string;
  readonly found: SocketInspection;
  readonly expectedUid: number;
  constructor(endpoint: UnixEndpoint, found: SocketInspection) {
    super(
      SOCKET_TAMPERED,
      `runtime socket ${endpoint.socketPath} is not the tenant's socket: found ${describeFound(found, endpoint.uid)}`,
    );
    this.socketPath = endpoint.socketPath;
    this.found = found;
    this.expectedUid = endpoint.uid;
  }
}

export function describeFound(found: SocketInspection, expectedUid: number): string {
  if (found.kind !== 'socket') return `a ${found.kind} (owner uid ${found.uid})`;
  return found.uid === expectedUid
    ? `a socket owned by uid ${found.uid}`
    : `a socket owned by uid ${found.uid}, expected ${expectedUid}`;
}

function kindOf(stats: Stats): SocketKind {
  if (stats.isSocket()) return 'socket';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isFile()) return 'file';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isDirectory()) return 'directory';
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'device';
  return 'unknown';
}

/**
 * Opens the socket path without following it and checks the inode: returns the O_PATH descriptor
 * (the caller closes it) and what was found. A missing path throws the system error (ENOENT).
 */
export function openRuntimeSocket(endpoint: UnixEndpoint): { fd: number; found: SocketInspection } {
  const fd = openSync(endpoint.socketPath, O_PATH | constants.O_NOFOLLOW);
  let found: SocketInspection;
  try {
    found = inspectDescriptor(fd);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  if (found.kind !== 'socket' || found.uid !== endpoint.uid) {
    closeSync(fd);
    throw new RuntimeSocketTamperedError(endpoint, found);
  }
  return { fd, found };
}

function inspectDescriptor(fd: number): SocketInspection {
  const stats = fstatSync(fd);
  return { kind: kindOf(stats), uid: stats.uid, gid: stats.gid };
}

/** What sits at the socket path now, without following it; undefined when nothing does. */
export function inspectRuntimeSocket(socketPath: string): SocketInspection | undefined {
  let fd: number;
  try {
    fd = openSync(socketPath, O_PATH | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return inspectDescriptor(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Connects to the checked inode. Throws synchronously when the path is missing or tampered with;
 * otherwise returns the connecting socket (connection errors arrive as its 'error' event).
 */
export function connectRuntimeSocket(endpoint: UnixEndpoint): Socket {
  const { fd } = openRuntimeSocket(endpoint);
  let open = true;
  const release = (): void => {
    if (!open) return;
    open = false;
    closeSync(fd);
  };
  try {
    const socket = connect({ path: `/proc/self/fd/${fd}` });
    // The kernel resolved the path when connect() ran; the descriptor is not needed after that.
    socket.once('connect', release);
    socket.once('close', release);
    return socket;
  } catch (error) {
    release();
    throw error;
  }
}

/** undici's `connect` option: every new connection of an Agent goes through the checks. */
export function runtimeSocketConnector(endpoint: UnixEndpoint): buildConnector.connector {
  return (_options, callback) => {
    let socket: Socket;
    try {
      socket = connectRuntimeSocket(endpoint);
    } catch (error) {
      callback(error as Error, null);
      return;
    }
    const onError = (error: Error): void => callback(error, null);
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      callback(null, socket);
    });
  };
}

/**
 * node:http request options whose connection goes through the checks (health probes, verify): a
 * refusal or a missing socket arrives as the request's 'error' event.
 */
export function runtimeRequestOptions(endpoint: UnixEndpoint): Pick<RequestOptions, 'createConnection'> {
  return {
    createConnection: (_options, callback) => {
      try {
        callback(null, connectRuntimeSocket(endpoint));
      } catch (error) {
        callback(error as Error, undefined as unknown as Socket);
      }
      return undefined;
    },
  };
}

/** Whether an error (or one of its causes) is a tampered runtime socket. */
export function tamperedSocketIn(error: unknown): RuntimeSocketTamperedError | undefined {
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 6; depth++) {
    if (current instanceof RuntimeSocketTamperedError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
