// A hostile pack poses as the egress gateway (issue 11): on the real engine, a tenant container runs
// the faulty pack and the fetcher pack, both as the tenant's UID. The faulty pack connects to the
// egress bridge's socket as the gateway does and answers the challenge with a well-formed proof it
// cannot have signed; the gateway's own tunnel pool (egress/tunnel-pool.ts, with the key whose
// public half the container was given) dials the same socket. The fetcher's request then reaches
// the gateway's connection only: the impostor's connections are closed with nothing but a challenge
// received. Without the proof the bridge took the impostor's connections as the gateway's, first
// come first served, and handed it the fetcher's request.
import { generateKeyPairSync } from 'node:crypto';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TunnelPool } from '../../egress/tunnel-pool.ts';
import { EGRESS_SOCKET_NAME } from '../../kernel/wire/egress-tunnel.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { approvePack, buildPackImage, removeImage } from '../support/pack-image.ts';
import { packTenants } from '../support/pack-tenants.ts';
import { until } from '../support/until.ts';

const TENANT = 'impostor-a';
const UID = 100_451;
const ANSWER = 'from the gateway';

let ns: TestNamespace;
let image: string | undefined;
let client: Client;
let pool: TunnelPool;
/** What reached the gateway's connections: the bridge's preamble line and the request after it. */
const reachedGateway: string[] = [];

/** The gateway's side of a tunnel, as egress/gateway.ts would serve it: records, then answers. */
function serveTunnel(socket: Socket): void {
  let received = '';
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
    if (!received.includes('\r\n\r\n')) return;
    reachedGateway.push(received);
    socket.end(
      `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${ANSWER.length}\r\nconnection: close\r\n\r\n${ANSWER}`,
    );
  });
  socket.resume();
}

interface Intercepted {
  connections: { received: string; proofSent: boolean; closed: boolean; error: string | null }[];
}

async function call(name: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name, arguments: args });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent as Record<string, unknown>;
}

beforeAll(async () => {
  ns = await testNamespace('pack-impostor');
  const keys = generateKeyPairSync('ed25519');
  image = await buildPackImage({
    tag: `${ns.namespace}-impostor`,
    packs: [await approvePack('faulty'), await approvePack('fetcher')],
  });
  const tenants = await packTenants(ns, {
    egressPublicKey: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  });
  const socketPath = await tenants.start(TENANT, UID, image);
  client = await tenants.client(TENANT);
  // The impostor first: had the bridge no proof to ask for, its connections would be the oldest
  // idle ones, the first a client is handed.
  await call('faulty_impostor');
  pool = new TunnelPool({
    target: { tenant: TENANT, socketPath: join(dirname(socketPath), EGRESS_SOCKET_NAME), uid: UID },
    size: 2,
    maxInUse: 4,
    dialsPerSecond: 20,
    signingKey: keys.privateKey,
    onTunnel: serveTunnel,
    logger: pino({ level: 'silent' }),
  });
  pool.topUp();
}, 180_000);

afterAll(async () => {
  pool?.close();
  await client?.close();
  await ns?.cleanup();
  if (image) await removeImage(image);
});

it('a pack posing as the egress gateway never receives another pack’s request', async () => {
  // Bounded: the pool's connections are ready once they proved themselves.
  await until(() => pool.stats.ready > 0, 'a ready connection');
  const fetched = await client
    .callTool({
      name: 'fetcher_get',
      arguments: { url: 'http://127.0.0.1:8080/another-packs-secret-path' },
    })
    .catch((error: unknown) => ({ failed: String(error) }));
  // Each of the impostor's connections got a challenge, sent its forged proof, and was closed,
  // with nothing after the challenge line: never the fetcher's preamble or request.
  const { connections } = (await call('faulty_intercepted')) as unknown as Intercepted;
  expect(connections).toHaveLength(8);
  for (const connection of connections) {
    expect(connection.received).toMatch(/^bulkhead-egress\/2 challenge=[A-Za-z0-9_-]{43}\n$/);
    expect(connection).toMatchObject({ proofSent: true, closed: true });
  }
  // Another challenge per connection: a proof seen on one would not do for the next.
  expect(new Set(connections.map((c) => c.received)).size).toBe(8);
  // The gateway's connection carried the request.
  expect(fetched).toMatchObject({ structuredContent: { status: 200, body: ANSWER } });
  expect(reachedGateway).toHaveLength(1);
  expect(reachedGateway[0]).toMatch(/^bulkhead-egress\/1 pack=fetcher\n/);
  expect(reachedGateway[0]).toContain('another-packs-secret-path');
});
