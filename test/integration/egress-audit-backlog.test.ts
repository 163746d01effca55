// The egress gateway keeps the audit entry of every upstream call Redis did not take, against the
// real gateway and bridge and a redis-server of the test's own (test/support/private-redis.ts):
// made to refuse every write (out of memory: `maxmemory` set below what it holds), as Redis does
// when it is full, then given its memory back. The calls made meanwhile are on the trail once it
// takes them, each once, in the order they were made, the chain whole. Past the gateway's bound of
// entries waiting, new requests and tunnels are refused (503, reason `audit_unavailable`) until the
// backlog drained. Its /metrics tell an operator so as it happens: the entries waiting, the bound,
// and the calls refused for it.
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import type { EgressPolicy } from '../../kernel/tenant/egress-policy.ts';
import { proxyGet, startLocalEgress, type LocalEgress } from '../support/egress.ts';
import { startRelayedRedis, type RelayedRedis } from '../support/freezing-proxy.ts';
import { scrape, total } from '../support/prometheus-text.ts';
import { until } from '../support/until.ts';

/** A loopback upstream that answers `/s/<status>` with that status: each call tells itself apart. */
async function statusUpstream(): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(Number(req.url?.split('/')[2] ?? 200)).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

/** A CONNECT through the bridge's proxy port: the gateway's whole answer, once it closed. */
function connectAnswer(proxyPort: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(proxyPort, '127.0.0.1', () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`),
    );
    let raw = '';
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(raw));
  });
}

let relayed: RelayedRedis;
let admin: Redis;
let upstream: { port: number; server: Server };
let local: LocalEgress | undefined;

beforeAll(async () => {
  relayed = await startRelayedRedis('egress-audit');
  admin = new Redis({ path: relayed.server.socketPath!, password: relayed.password });
  upstream = await statusUpstream();
});

afterEach(async () => {
  await admin.config('SET', 'maxmemory', '0');
  await local?.close();
  local = undefined;
});

afterAll(async () => {
  admin.disconnect();
  await new Promise((resolve) => upstream.server.close(resolve));
  await relayed.close();
});

async function gateway(label: string, auditBacklog?: number, metrics = false): Promise<LocalEgress> {
  const egress: EgressPolicy = {
    mode: 'allowlist',
    hosts: [`127.0.0.1:${upstream.port}`],
    packs: {},
    upstreams: {},
  };
  local = await startLocalEgress({
    label,
    egress,
    redisUrl: relayed.url,
    metrics,
    ...(auditBacklog === undefined ? {} : { auditBacklog }),
  });
  return local;
}

/** Redis refuses every write from now on, as when it is full (`maxmemory`, no eviction). */
const refuseWrites = () => admin.config('SET', 'maxmemory', '1');
const takeWrites = () => admin.config('SET', 'maxmemory', '0');

describe('egress audit entries Redis did not take', () => {
  it('are written once it takes them: each once, in order, the chain whole', async () => {
    const { port, redis, ns } = await gateway('egress-audit-kept');
    const trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
    const call = (status: number) => proxyGet(port, `http://127.0.0.1:${upstream.port}/s/${status}`);
    const statuses = async () => (await trail.entries('local')).map((e) => e.upstream?.status);
    for (const status of [261, 262]) expect((await call(status)).status).toBe(status);
    await until(async () => (await statuses()).length === 2, 'the first two entries');

    await refuseWrites();
    // Served all the same: the calls happen; their entries wait.
    for (const status of [263, 264, 265, 266]) expect((await call(status)).status).toBe(status);
    expect(await statuses()).toEqual([261, 262]);

    await takeWrites();
    expect((await call(267)).status).toBe(267);
    await until(async () => (await statuses()).includes(267), 'the entry of the call after the outage');
    expect(await statuses()).toEqual([261, 262, 263, 264, 265, 266, 267]);
    const check = await trail.verify('local');
    expect(check).toMatchObject({ ok: true, entries: 7 });
    expect((await trail.entries('local')).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('whose append was written but its answer lost are not written again', async () => {
    const { port, redis, ns } = await gateway('egress-audit-cut');
    const trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
    const call = (status: number) => proxyGet(port, `http://127.0.0.1:${upstream.port}/s/${status}`);
    const statuses = async () => (await trail.entries('local')).map((e) => e.upstream?.status);
    expect((await call(261)).status).toBe(261);
    await until(async () => (await statuses()).length === 1, 'the first entry');
    // The append of 262's entry reaches Redis; its answer does not, and its connection closes.
    // ioredis sends it again once connected again: the trail already holds it then.
    relayed.proxy.cutAfter('"status\\":262');
    expect((await call(262)).status).toBe(262);
    expect((await call(263)).status).toBe(263);
    await until(async () => (await statuses()).includes(263), 'the entry after the cut');
    expect(await statuses()).toEqual([261, 262, 263]);
    expect(await trail.verify('local')).toMatchObject({ ok: true, entries: 3 });
  });

  it('past the bound, refuse new requests and tunnels, unaudited, until the backlog drained', async () => {
    const { port, redis, ns, gateway: running } = await gateway('egress-audit-bound', 2, true);
    const trail = new AuditTrail({ redis, prefix: ns.installation.registryPrefix });
    const target = `127.0.0.1:${upstream.port}`;
    const metric = async (name: string, labels: Record<string, string> = {}) =>
      total(await scrape(running.metricsUrl!), name, labels);
    expect(await metric('bulkhead_egress_audit_backlog_limit')).toBe(2);
    await refuseWrites();
    expect((await proxyGet(port, `http://${target}/s/261`)).status).toBe(261);
    expect((await proxyGet(port, `http://${target}/s/262`)).status).toBe(262);
    expect(await metric('bulkhead_egress_audit_waiting')).toBe(2);

    const refused = await proxyGet(port, `http://${target}/s/263`);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({
      error: 'state_unavailable',
      reason: 'audit_unavailable',
    });
    const tunnel = await connectAnswer(port, target);
    expect(tunnel).toMatch(/^HTTP\/1\.1 503 /);
    expect(tunnel).toContain('"reason":"audit_unavailable"');
    const denied = { decision: 'deny', reason: 'audit_unavailable', status_class: '5xx' };
    await until(
      async () => (await metric('bulkhead_egress_requests_total', denied)) === 2,
      'both refusals counted',
    );
    const forwarded = { decision: 'permit', reason: 'forwarded', status_class: '2xx' };
    expect(await metric('bulkhead_egress_requests_total', forwarded)).toBe(2);

    await takeWrites();
    await until(() => running.auditWaiting() === 0, 'the backlog drained');
    expect(await metric('bulkhead_egress_audit_waiting')).toBe(0);
    expect((await proxyGet(port, `http://${target}/s/264`)).status).toBe(264);
    await until(async () => (await trail.entries('local')).length === 3, 'the entry after the backlog');
    // The refused ones are in the log only: no entry could be kept for them.
    expect((await trail.entries('local')).map((e) => e.upstream?.status)).toEqual([261, 262, 264]);
    expect(await trail.verify('local')).toMatchObject({ ok: true, entries: 3 });
  });
});
