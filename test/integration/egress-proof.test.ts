// The gateway's proof on the egress bridge's socket (kernel/wire/egress-tunnel.ts), on real unix
// sockets with the bridge and the gateway's tunnel pool in this process: a connection that answers
// the challenge with anything but the gateway's signature over this nonce and this tenant is closed
// and never carries a client (a proof replayed from another connection, one made for another
// tenant, one by another key), and a runtime and a gateway of different handshake versions refuse
// each other, each saying so in its log.
import { generateKeyPairSync, sign } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TunnelPool } from '../../egress/tunnel-pool.ts';
import { formatProof, parseChallenge, proofMessage, readLine } from '../../kernel/wire/egress-tunnel.ts';
import { startEgressBridge, type EgressBridge } from '../../runtime-image/src/egress-bridge.ts';
import { getOnce } from '../support/egress.ts';
import { freePort } from '../support/stack.ts';
import { until } from '../support/until.ts';

const TENANT = 'proof-a';
const UID = 100_461;
const gateway = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');

interface Logged {
  fields: object;
  message: string;
}
const bridgeLog: Logged[] = [];
const record = (into: Logged[]) => ({
  info: () => undefined,
  warn: (fields: object, message: string) => into.push({ fields, message }),
});

let dir: string;
let bridge: EgressBridge;
let port: number;
let socketPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'egress-proof-'));
  socketPath = join(dir, 'egress.sock');
  port = await freePort();
  bridge = await startEgressBridge({
    socketPath,
    tenantId: TENANT,
    gatewayKey: gateway.publicKey,
    port,
    packs: [],
    waitMs: 500,
    maxIdle: 8,
    proofTimeoutMs: 300,
    logger: record(bridgeLog),
  });
});

afterAll(async () => {
  await bridge?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection to the bridge's socket as a pack could open one: its challenge's nonce. */
async function challenged(
  path = socketPath,
): Promise<{ socket: Socket; nonce: Buffer; closed: Promise<string> }> {
  const socket = connect(path);
  await new Promise((resolve) => socket.once('connect', resolve));
  const line = await readLine(socket, { maxBytes: 128, timeoutMs: 2_000 });
  const nonce = line === null ? null : parseChallenge(line);
  if (!nonce) throw new Error(`no challenge: ${line}`);
  let after = '';
  socket.on('data', (chunk: Buffer) => (after += chunk.toString('latin1')));
  socket.resume();
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(after)));
  return { socket, nonce, closed };
}

const proof = (key: typeof gateway.privateKey, tenant: string, nonce: Buffer): string =>
  formatProof(sign(null, proofMessage(tenant, nonce), key));

it('refuses a replayed proof, a proof for another tenant and one by another key; none carries a client', async () => {
  const before = bridge.refused();
  // A proof seen on one connection (here made by the test, which holds the key) ...
  const first = await challenged();
  const seen = proof(gateway.privateKey, TENANT, first.nonce);
  first.socket.destroy();
  // ... does not do for the next one, whose nonce differs.
  const replayed = await challenged();
  expect(replayed.nonce.equals(first.nonce)).toBe(false);
  replayed.socket.write(seen);
  const otherTenant = await challenged();
  otherTenant.socket.write(proof(gateway.privateKey, 'proof-b', otherTenant.nonce));
  const otherKey = await challenged();
  otherKey.socket.write(proof(stranger.privateKey, TENANT, otherKey.nonce));
  // A client meanwhile finds no gateway connection: the bridge's 503, not one of the above.
  const status = getOnce({ host: '127.0.0.1', port, path: 'http://127.0.0.1:8080/secret-path' });
  // Each is closed with nothing after its challenge: no preamble, no request.
  expect(await Promise.all([replayed.closed, otherTenant.closed, otherKey.closed])).toEqual(['', '', '']);
  expect(await status).toBe(503);
  expect(bridge.refused() - before).toBeGreaterThanOrEqual(3);
  expect(bridgeLog.map((l) => l.fields)).toContainEqual(
    expect.objectContaining({ reason: 'a signature that does not verify with the gateway key' }),
  );
});

it('the gateway’s pool proves itself and serves the client', async () => {
  const tunnels: string[] = [];
  chownSync(socketPath, UID, UID);
  const pool = new TunnelPool({
    target: { tenant: TENANT, socketPath, uid: UID },
    size: 1,
    maxInUse: 2,
    dialsPerSecond: 10,
    signingKey: gateway.privateKey,
    onTunnel: (socket) => {
      socket.on('data', (chunk: Buffer) => {
        tunnels.push(chunk.toString('latin1'));
        socket.end('HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n');
      });
      socket.resume();
    },
    logger: record([]),
  });
  try {
    pool.topUp();
    await until(() => pool.stats.ready === 1, 'a ready connection');
    expect(await getOnce({ host: '127.0.0.1', port, path: 'http://127.0.0.1:8080/ok' })).toBe(204);
    expect(tunnels.join('')).toMatch(/^bulkhead-egress\/1 pack=-\nGET http:\/\/127\.0\.0\.1:8080\/ok /);
  } finally {
    pool.close();
  }
});

it('a gateway of the version before (no answer to the challenge) is refused and logged', async () => {
  const before = bridge.refused();
  // The old gateway waited for the bridge's first bytes as a client's preamble: it sends nothing.
  const old = await challenged();
  expect(await old.closed).toBe('');
  expect(bridge.refused() - before).toBe(1);
  expect(bridgeLog.map((l) => l.fields)).toContainEqual(
    expect.objectContaining({ reason: 'no answer to the challenge' }),
  );
});

it('a runtime of the version before (no challenge) is refused by the gateway and logged', async () => {
  // The old bridge: no challenge; a client's preamble and request once one comes (here at once).
  const oldPath = join(dir, 'old.sock');
  const reached: string[] = [];
  const old: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => reached.push(chunk.toString('latin1')));
    socket.write('bulkhead-egress/1 pack=-\nGET http://127.0.0.1:8080/ HTTP/1.1\r\nhost: a\r\n\r\n');
  });
  await new Promise<void>((resolve) => old.listen(oldPath, resolve));
  chownSync(oldPath, UID, UID);
  const gatewayLog: Logged[] = [];
  const pool = new TunnelPool({
    target: { tenant: TENANT, socketPath: oldPath, uid: UID },
    size: 1,
    maxInUse: 2,
    dialsPerSecond: 10,
    signingKey: gateway.privateKey,
    onTunnel: () => reached.push('tunnel used'),
    logger: record(gatewayLog),
  });
  try {
    pool.topUp();
    await until(() => pool.stats.unchallenged === 1, 'an unchallenged connection');
    expect(pool.stats).toMatchObject({ used: 0, ready: 0 });
    // Nothing was signed for it, and no request was served.
    expect(reached).toEqual([]);
    expect(gatewayLog).toEqual([
      expect.objectContaining({ message: expect.stringContaining('sent no challenge') }),
    ]);
  } finally {
    pool.close();
    await new Promise((resolve) => old.close(resolve));
  }
});
