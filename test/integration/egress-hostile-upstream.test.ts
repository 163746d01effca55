// One gateway serves every tenant, so nothing an upstream answers may end it. An upstream a tenant
// may reach is one it may run itself (its own API behind an allowed name): here one whose status
// line says 099, which Node's HTTP client reads but its server refuses to write. The gateway (with
// the tenants' bridges: test/support/local-egress-main.ts) runs as a process of its own, so a
// crash shows as its exit; the tenant's client gets a 502, its neighbour is still served after it.
// And one that switches protocols unasked, which Node's client ends with neither an answer nor an
// error: the client gets its 502 at once instead of waiting (the call was unaudited too:
// test/unit/egress-proxy.test.ts shows its audit entry).
import { request } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import {
  spawnLocalEgress,
  startUpstream,
  type LocalEgressProcess,
  type Upstream,
} from '../support/egress.ts';

const allow = (hosts: string[]): EgressPolicy => ({ mode: 'allowlist', hosts, packs: {}, upstreams: {} });

/** The hostile upstream's answer to each path. */
const STATUS_099 = 'HTTP/1.1 099 Odd\r\ncontent-length: 0\r\n\r\n';
const ANSWERS: Record<string, string> = {
  '/status': STATUS_099,
  // Never asked for: the gateway sends no Upgrade header.
  '/upgrade': 'HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n',
};

let hostile: Server;
let hostilePort: number;
let steady: Upstream;
let gateway: LocalEgressProcess;
let ports: Record<string, number>;

beforeAll(async () => {
  hostile = createServer((socket) =>
    socket.once('data', (request: Buffer) =>
      socket.end(ANSWERS[request.toString('latin1').split(' ')[1] ?? ''] ?? STATUS_099),
    ),
  );
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  hostilePort = (hostile.address() as AddressInfo).port;
  steady = await startUpstream('steady');
  const options = {
    label: 'egress-hostile-upstream',
    egress: allow([`127.0.0.1:${hostilePort}`]),
    others: { neighbour: allow([`127.0.0.1:${steady.port}`]) },
  };
  gateway = await spawnLocalEgress(options);
  ports = gateway.ports;
});

afterAll(async () => {
  await gateway?.stop();
  hostile?.close();
  await steady?.close();
});

/** One GET through a tenant's bridge: its status and body, or the error that ended it. */
function get(port: number, url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: url, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ error: String(error) }));
    req.end();
  });
}

it('answers 502 for an upstream status no HTTP server may write, and goes on serving every tenant', async () => {
  const answer = await get(ports.local!, `http://127.0.0.1:${hostilePort}/status`);
  expect(answer).toMatchObject({ status: 502 });
  expect(JSON.parse((answer as { body: string }).body)).toMatchObject({
    error: 'upstream_unreachable',
    reason: 'bad_upstream_response',
  });
  expect(gateway.child.exitCode).toBeNull();
  expect(await get(ports.neighbour!, `http://127.0.0.1:${steady.port}/`)).toEqual({
    status: 200,
    body: 'hello from steady',
  });
  expect(gateway.child.exitCode).toBeNull();
}, 30_000);

it('answers 502 at once for a switch of protocols it never asked for, rather than leaving the client waiting', async () => {
  // Its client gives up after 10 s (`get`): an answer left waiting is a timeout, not a 502.
  const answer = await get(ports.local!, `http://127.0.0.1:${hostilePort}/upgrade`);
  expect(answer).toMatchObject({ status: 502 });
  expect(JSON.parse((answer as { body: string }).body)).toMatchObject({
    error: 'upstream_unreachable',
    reason: 'bad_upstream_response',
  });
}, 30_000);
