// The runtime socket connector on plain temporary directories: only a socket owned by the expected
// UID is connected to, the connection goes to the very inode that was checked, and whatever else
// a tenant may put at the path (a symlink, a file, a FIFO, another UID's socket) is refused before
// anything connects to the other end. Runs as root (chown), like the rest of the suite.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chownSync, closeSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, fetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { classifyCallFailure } from '../../router/dispatch/call-failure.ts';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { RuntimeUnavailableError } from '../../router/dispatch/call-failure.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import {
  connectRuntimeSocket,
  openRuntimeSocket,
  RuntimeSocketTamperedError,
  runtimeSocketConnector,
  tamperedSocketIn,
  type UnixEndpoint,
} from '../../supervisor/client/runtime-socket.ts';
import { probeHealth, socketListening } from '../../supervisor/runtime/health-probe.ts';
import { socketChecks } from '../../supervisor/verify/socket-checks.ts';

const ME = process.getuid?.() ?? 0;
const OTHER_UID = 4_242;

interface CountingServer {
  path: string;
  connections: number;
  requests: number;
  server: Server;
}

async function listen(path: string): Promise<CountingServer> {
  const counting: CountingServer = {
    path,
    connections: 0,
    requests: 0,
    server: createHttpServer((_req, res) => {
      counting.requests += 1;
      res.writeHead(200).end('{"ok":true}');
    }),
  };
  counting.server.on('connection', () => (counting.connections += 1));
  await new Promise<void>((resolve) => counting.server.listen(path, resolve));
  return counting;
}

let dir: string;
let tenant: CountingServer;
let host: CountingServer;
const endpoint = (name = 'mcp.sock', uid = ME): UnixEndpoint => ({
  kind: 'unix',
  socketPath: join(dir, name),
  uid,
});

function connectOnce(target: UnixEndpoint): Promise<void> {
  const socket = connectRuntimeSocket(target);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

function tamperedBy(action: () => unknown): RuntimeSocketTamperedError {
  try {
    action();
  } catch (error) {
    if (error instanceof RuntimeSocketTamperedError) return error;
    throw error;
  }
  throw new Error('not refused');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bulkhead-socket-'));
  tenant = await listen(join(dir, 'tenant.sock'));
  host = await listen(join(dir, 'host.sock'));
});

afterEach(() => {
  rmSync(join(dir, 'mcp.sock'), { force: true });
  tenant.connections = 0;
  tenant.requests = 0;
  host.connections = 0;
});

afterAll(async () => {
  await Promise.all([tenant, host].map((s) => new Promise((resolve) => s.server.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

describe('runtime socket connector', () => {
  it('connects to a socket owned by the expected UID', async () => {
    renameSync(tenant.path, join(dir, 'mcp.sock'));
    try {
      await connectOnce(endpoint());
      expect(await probeHealth(endpoint())).toBe(true);
    } finally {
      renameSync(join(dir, 'mcp.sock'), tenant.path);
    }
    expect(tenant.connections).toBe(2);
  });

  it('connects to the inode it checked, even if the path is swapped right after the check', async () => {
    renameSync(tenant.path, join(dir, 'mcp.sock'));
    const { fd } = openRuntimeSocket(endpoint());
    // The tenant swaps its socket for a link to the host socket between check and connect.
    renameSync(join(dir, 'mcp.sock'), tenant.path);
    symlinkSync(host.path, join(dir, 'mcp.sock'));
    const socket = connect({ path: `/proc/self/fd/${fd}` });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.destroy();
    closeSync(fd);
    expect(tenant.connections).toBe(1);
    expect(host.connections).toBe(0);
  });

  it('refuses a symlink to another socket without connecting to it', async () => {
    symlinkSync(host.path, join(dir, 'mcp.sock'));
    const error = tamperedBy(() => connectRuntimeSocket(endpoint()));
    expect(error.found.kind).toBe('symlink');
    expect(error.message).toContain('found a symlink');
    await expect(probeHealth(endpoint())).rejects.toBeInstanceOf(RuntimeSocketTamperedError);
    expect(host.connections).toBe(0);
  });

  it('refuses a regular file and a FIFO', () => {
    writeFileSync(join(dir, 'mcp.sock'), 'not a socket');
    expect(tamperedBy(() => connectRuntimeSocket(endpoint())).found.kind).toBe('file');
    rmSync(join(dir, 'mcp.sock'));
    execFileSync('mkfifo', [join(dir, 'mcp.sock')]);
    expect(tamperedBy(() => connectRuntimeSocket(endpoint())).found.kind).toBe('fifo');
  });

  it('refuses a socket owned by another UID, without connecting to it', async () => {
    const stranger = await listen(join(dir, 'mcp.sock'));
    chownSync(stranger.path, OTHER_UID, OTHER_UID);
    const error = tamperedBy(() => connectRuntimeSocket(endpoint()));
    expect(error.found).toMatchObject({ kind: 'socket', uid: OTHER_UID });
    expect(error.message).toContain(`owned by uid ${OTHER_UID}, expected ${ME}`);
    // The other way round too: the tenant's UID is what is expected, root's socket is refused.
    chownSync(stranger.path, ME, ME);
    expect(tamperedBy(() => connectRuntimeSocket(endpoint('mcp.sock', OTHER_UID))).found.uid).toBe(ME);
    expect(stranger.connections).toBe(0);
    await new Promise((resolve) => stranger.server.close(resolve));
  });

  it('a runtime that accepts but never answers fails its health probe instead of hanging it', async () => {
    const silent = createNetServer((socket) => socket.resume()); // reads, never answers
    await new Promise<void>((resolve) => silent.listen(join(dir, 'mcp.sock'), resolve));
    expect(await probeHealth(endpoint())).toBe(false);
    await new Promise((resolve) => silent.close(resolve));
  });

  it('a missing socket is a plain ENOENT: not delivered, not tampering', async () => {
    expect(() => connectRuntimeSocket(endpoint())).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(await probeHealth(endpoint())).toBe(false);
    expect(await socketListening(endpoint())).toBe(false);
  });

  it("the wake's check connects to the tenant's own socket and sends nothing", async () => {
    renameSync(tenant.path, join(dir, 'mcp.sock'));
    try {
      expect(await socketListening(endpoint())).toBe(true);
      // A request after it: once it is answered, the server has accepted both connections (in order).
      expect(await probeHealth(endpoint())).toBe(true);
    } finally {
      renameSync(join(dir, 'mcp.sock'), tenant.path);
    }
    expect(tenant.connections).toBe(2);
    expect(tenant.requests).toBe(1);
  });

  it("the wake's check refuses a planted path without connecting to it", async () => {
    symlinkSync(host.path, join(dir, 'mcp.sock'));
    await expect(socketListening(endpoint())).rejects.toBeInstanceOf(RuntimeSocketTamperedError);
    expect(host.connections).toBe(0);
  });

  it('through undici: the request fails as tampered and the other end sees no connection', async () => {
    symlinkSync(host.path, join(dir, 'mcp.sock'));
    const agent = new Agent({ connect: runtimeSocketConnector(endpoint()) });
    const error = await fetch('http://tenant/healthz', { dispatcher: agent }).catch((e: unknown) => e);
    await agent.close();
    expect(tamperedSocketIn(error)?.found.kind).toBe('symlink');
    expect(classifyCallFailure(error)).toBe('tampered');
    expect(host.connections).toBe(0);
  });

  it('the router reports the event and answers transient, sending nothing', async () => {
    symlinkSync(host.path, join(dir, 'mcp.sock'));
    const reported: { tenant: string; kind: string }[] = [];
    const { privateKey } = generateKeyPairSync('ed25519');
    const dispatcher = new TenantDispatcher({
      runtimes: { ensure: () => Promise.resolve(endpoint()) },
      sign: await createCallSigner(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      logger: pino({ level: 'silent' }),
      onSocketTampered: (tenantId, error) => {
        reported.push({ tenant: tenantId, kind: error.found.kind });
        return Promise.resolve();
      },
    });
    const context = { tenant: 'acme', user: null, agent: 'agent-1', scopes: ['records:read'] };
    const error = await dispatcher.callTool(context, 'records_list', {}).catch((e: unknown) => e);
    await dispatcher.close();
    expect(error).toBeInstanceOf(RuntimeUnavailableError);
    expect((error as RuntimeUnavailableError).failure).toBe('tampered');
    expect(reported).toEqual([{ tenant: 'acme', kind: 'symlink' }]);
    expect(host.connections).toBe(0);
  });

  it("verify passes the socket controls on the tenant's own socket, with the peer's credentials", async () => {
    renameSync(tenant.path, join(dir, 'mcp.sock'));
    try {
      const checks = await socketChecks(endpoint(), { isolation: 'runc', runtimeId: 'c0ffee' });
      expect(checks.map((c) => [c.id, c.pass])).toEqual([
        ['socket.type', true],
        ['socket.owner', true],
        ['socket.peer', true],
        ['socket.peer-credentials', true],
      ]);
      // The listening process is this one: SO_PEERCRED names it.
      expect(checks.find((c) => c.id === 'socket.peer-credentials')?.why).toContain(
        `peer pid ${process.pid}, uid ${ME}`,
      );
      // Under gVisor a peer of the tenant's UID is not runsc's gofer: refused as evidence.
      const gvisor = await socketChecks(endpoint(), { isolation: 'gvisor', runtimeId: 'c0ffee' });
      expect(gvisor.find((c) => c.id === 'socket.peer-credentials')).toMatchObject({
        pass: false,
        why: expect.stringContaining("expected runsc's gofer") as unknown,
      });
    } finally {
      renameSync(join(dir, 'mcp.sock'), tenant.path);
    }
  });

  it('verify names the socket controls that fail', async () => {
    symlinkSync(host.path, join(dir, 'mcp.sock'));
    const checks = await socketChecks(endpoint(), { isolation: 'runc', runtimeId: 'c0ffee' });
    expect(checks.filter((c) => !c.pass).map((c) => c.id)).toEqual([
      'socket.type',
      'socket.owner',
      'socket.peer',
      'socket.peer-credentials',
    ]);
    expect(checks.find((c) => c.id === 'socket.peer-credentials')?.why).toContain('no connection made');
    expect(checks.find((c) => c.id === 'socket.type')?.why).toContain(`a symlink to ${host.path}`);
    expect(checks.find((c) => c.id === 'socket.peer')?.why).toContain('refused before connecting');
    expect(host.connections).toBe(0);
  });
});
