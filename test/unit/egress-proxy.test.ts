// The gateway's proxy (egress/proxy.ts) against a hostile client on one tunnel: what reaches an
// upstream, and what it costs, stays within what the tunnel pool bounds (one request at a time
// per connection, BULKHEAD_EGRESS_MAX_CONNECTIONS connections per tenant), no upstream
// connection outlives its client, a connection sending no request ends, a forwarded body is
// never a request of its own, a credential the gateway adds is not echoed back, one tenant's
// kept-alive upstream connection never serves another tenant, `name.` is `name` in both proxy
// forms, and a host no rule could name (longer than DNS allows) is refused in both. The proxy is
// driven directly, one loopback connection standing for one tunnel; the upstreams are loopback
// servers that record what reaches them (test/support/egress-proxy-harness.ts).
import { connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { UpstreamBudget } from '../../egress/upstream-budget.ts';
import { NameResolver } from '../../egress/name-lookup.ts';
import { until } from '../support/until.ts';
import {
  atTestEnd,
  closeProxyHarness,
  countingBudget,
  exchange,
  httpUpstream,
  listening,
  proxy,
  upstream,
} from '../support/egress-proxy-harness.ts';

afterEach(closeProxyHarness);

describe('the egress proxy against a hostile tunnel', () => {
  it('forwards one request of a connection at a time: pipelined requests reach no upstream and no audit', async () => {
    const up = await upstream();
    const gateway = await proxy(up.port);
    const get = `GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nhost: 127.0.0.1:${up.port}\r\n\r\n`;
    const answer = await exchange(gateway.port, get.repeat(20));
    // The first is served; the second, pipelined behind it, is refused and ends the connection.
    expect(answer.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(answer).toContain('"reason":"pipelined"');
    expect(up.requests()).toBe(1);
    expect(up.connections()).toBe(1);
    expect(gateway.events).toHaveLength(1);
  });

  it('refuses a CONNECT pipelined behind a request in flight', async () => {
    const up = await upstream();
    const gateway = await proxy(up.port);
    const target = `127.0.0.1:${up.port}`;
    const answer = await exchange(
      gateway.port,
      `GET http://${target}/ HTTP/1.1\r\nhost: ${target}\r\n\r\nCONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`,
    );
    expect(answer).toContain('"reason":"pipelined"');
    expect(answer).not.toContain('200 Connection Established');
    expect(gateway.events.filter((e) => e.call.method === 'CONNECT')).toHaveLength(0);
  }, 10_000);

  it('audits one refused request per connection, however many are pipelined behind it', async () => {
    const up = await upstream();
    const gateway = await proxy(up.port);
    const denied = 'GET http://elsewhere.example.test/ HTTP/1.1\r\nhost: elsewhere.example.test\r\n\r\n';
    const answer = await exchange(gateway.port, denied.repeat(20));
    // The refusal ends the connection; the requests behind it are answered by nothing.
    expect(answer.match(/HTTP\/1\.1 \d+/g)).toEqual(['HTTP/1.1 403']);
    expect(gateway.events.map((e) => e.reason)).toEqual(['host_not_allowed']);
  });

  it("never hands one tenant's kept-alive upstream connection to another tenant's request", async () => {
    // The upstream records, per request, the tenant that sent it and the port of the connection it
    // came on: one port, one connection.
    const from: { tenant: string; port: number }[] = [];
    const port = await httpUpstream((req, res) => {
      from.push({ tenant: String(req.headers['x-tenant']), port: req.socket.remotePort! });
      req.resume();
      res.end('ok');
    });
    const gateway = await proxy(port);
    const target = `127.0.0.1:${port}`;
    for (const tenant of ['acme', 'globex', 'acme', 'globex'] as const) {
      const get = `GET http://${target}/ HTTP/1.1\r\nhost: ${target}\r\nx-tenant: ${tenant}\r\nconnection: close\r\n\r\n`;
      expect(await exchange(gateway.portOf(tenant), get)).toMatch(/^HTTP\/1\.1 200/);
    }
    const portsOf = (tenant: string) => new Set(from.filter((r) => r.tenant === tenant).map((r) => r.port));
    const [acme, globex] = [portsOf('acme'), portsOf('globex')];
    expect([...acme].filter((p) => globex.has(p))).toEqual([]);
    // Still kept alive: each tenant's second request came on its first one's connection.
    expect([acme.size, globex.size]).toEqual([1, 1]);
  });

  it('takes `name.` as `name` in both forms: allowed by its rule, looked up and audited without the dot', async () => {
    const asked: string[] = [];
    const names = new NameResolver({
      lookup: (host) => {
        asked.push(host);
        return Promise.reject(new Error('ENOTFOUND'));
      },
    });
    const gateway = await proxy(1, { names, hosts: ['api.example.test'] });
    const host = 'API.example.test.';
    const answers = [
      await exchange(gateway.port, `CONNECT ${host}:443 HTTP/1.1\r\nhost: ${host}:443\r\n\r\n`),
      await exchange(gateway.port, `GET http://${host}/ HTTP/1.1\r\nhost: ${host}\r\n\r\n`),
    ];
    // Past the allowlist in both: what stops them is this test's resolver, which knows no name.
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 502 .*"reason":"name_not_resolved"/s);
    expect(asked).toEqual(['api.example.test', 'api.example.test']);
    expect(gateway.events.map((e) => [e.call.method, e.call.host])).toEqual([
      ['CONNECT', 'api.example.test'],
      ['GET', 'api.example.test'],
    ]);
    // Only one dot: `name..` is no name the rule allows, in either form.
    for (const request of [
      'CONNECT api.example.test..:443 HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET http://api.example.test../ HTTP/1.1\r\nhost: x\r\n\r\n',
    ])
      expect(await exchange(gateway.port, request)).toMatch(/^HTTP\/1\.1 403 .*"reason":"host_not_allowed"/s);
  });

  it.each(['CONNECT', 'GET'])(
    'opens no upstream connection for a %s whose client left while it was admitted',
    async (method) => {
      const up = await upstream('none');
      let admit: (() => void) | undefined;
      let refunds = 0;
      const budget: UpstreamBudget = {
        take: () =>
          new Promise(
            (resolve) => (admit = () => resolve({ admitted: true, limit: 9, remaining: 8, retryAfterMs: 0 })),
          ),
        refund: () => Promise.resolve(void (refunds += 1)),
      };
      const gateway = await proxy(up.port, { budget });
      const client = connect(gateway.port, '127.0.0.1', () =>
        client.write(
          method === 'CONNECT'
            ? `CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nhost: 127.0.0.1:${up.port}\r\n\r\n`
            : `GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nhost: 127.0.0.1:${up.port}\r\n\r\n`,
        ),
      );
      // The client leaves, with a reset, while its request waits for admission (the budget, then the
      // name); a reset, not an end, so that nothing the proxy pipes would end an upstream connection.
      await until(() => gateway.side() !== undefined, 'the gateway side of the request');
      const side = gateway.side()!;
      const closed = new Promise((resolve) => side.once('close', resolve));
      client.resetAndDestroy();
      await closed;
      await until(() => admit !== undefined, 'the request to wait for admission');
      admit!();
      // Either the upstream is dialed (nothing would end that connection but the idle timeout, and
      // it counts in no bound of the tenant's), or the request is recorded as ended without it.
      const first = await Promise.race([
        up.connected.then(() => 'dialed'),
        gateway.observed.then(() => 'recorded'),
      ]);
      expect(first).toBe('recorded');
      expect(up.connections()).toBe(0);
      expect(gateway.events[0]).toMatchObject({
        decision: 'permit',
        reason: 'client_gone',
        errorType: undefined,
        call: { method, status: 499, upstream: 'local' },
      });
      // Charged as it was admitted, and given back: the upstream never saw it.
      expect(refunds).toBe(1);
    },
  );

  it('ends the upstream request when its client leaves in the middle of the answer', async () => {
    const up = await upstream('started');
    const gateway = await proxy(up.port);
    const client = connect(gateway.port, '127.0.0.1', () =>
      client.write(`GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nhost: 127.0.0.1:${up.port}\r\n\r\n`),
    );
    // The client reads the start of the answer and leaves. Nothing reads the upstream's answer
    // after that: left open, its connection would last until the idle timeout (an hour here).
    await new Promise((resolve) => client.once('data', resolve));
    client.destroy();
    await up.closed;
    expect(gateway.events).toMatchObject([
      { decision: 'permit', reason: 'forwarded', call: { status: 200 } },
    ]);
  }, 10_000);

  it('ends a connection whose request headers do not come within the deadline', async () => {
    const up = await upstream();
    const gateway = await proxy(up.port, { headersTimeoutMs: 200 });
    // Headers begun and never finished: without a deadline the connection stays open for good.
    const answer = await exchange(gateway.port, `GET http://127.0.0.1:${up.port}/ HTTP/1.1\r\nhost: x\r\n`);
    expect(answer).toBe('');
    expect(up.connections()).toBe(0);
    expect(gateway.events).toHaveLength(0);
  }, 10_000);

  it.each(['GET', 'DELETE', 'OPTIONS'])(
    'frames a %s body as it came: a chunked body is never a second request to the upstream',
    async (method) => {
      const seen: string[] = [];
      const port = await httpUpstream((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          seen.push(`${req.method} ${req.headers.host} ${req.url} ${JSON.stringify(body)}`);
          res.end('ok');
        });
      });
      const gateway = await proxy(port);
      // The body is a request of its own to another virtual host: sent unframed, the upstream
      // would read it as the next request, its host and path unchecked, unaudited and uncharged.
      const inner = 'GET /smuggled HTTP/1.1\r\nhost: elsewhere.example.test\r\n\r\n';
      const answer = await exchange(
        gateway.port,
        `${method} http://127.0.0.1:${port}/ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n` +
          `transfer-encoding: chunked\r\n\r\n${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(seen).toEqual([`${method} 127.0.0.1:${port} / ${JSON.stringify(inner)}`]);
    },
  );

  it('refuses a plain request to a host no rule could name, unaudited: the trail holds no such name', async () => {
    const up = await upstream('whole');
    const gateway = await proxy(up.port);
    // Node's URL parser takes a host name of any length; DNS's longest is 253 characters.
    const long = `${'a'.repeat(8_000)}.example.test`;
    const answer = await exchange(
      gateway.port,
      `GET http://${long}/ HTTP/1.1\r\nhost: example.test\r\nconnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 .*"reason":"bad_host"/s);
    expect(answer).not.toContain(long);
    expect(gateway.events).toEqual([]);
  });

  it('sends no TRACE to an upstream whose credential it adds: the upstream would echo it back', async () => {
    // An upstream that answers TRACE as HTTP says (Apache's default): the request it got, as its body.
    const port = await httpUpstream((req, res) => {
      req.resume();
      if (req.method === 'TRACE') res.end(`${req.method} ${req.url}\r\n${JSON.stringify(req.headers)}`);
      else res.end('ok');
    });
    const budget = countingBudget();
    const gateway = await proxy(port, { secret: 'the-upstream-secret', budget });
    const target = `127.0.0.1:${port}`;
    const answer = await exchange(
      gateway.port,
      `TRACE http://${target}/ HTTP/1.1\r\nhost: ${target}\r\nconnection: close\r\n\r\n`,
    );
    expect(answer).not.toContain('the-upstream-secret');
    expect(answer).toMatch(/^HTTP\/1\.1 403/);
    expect(gateway.events).toMatchObject([{ decision: 'deny', reason: 'credential_echo' }]);
    // Refused by the gateway after its charge: the call the upstream never saw is given back.
    expect(budget.refunds).toBe(1);
    // Any other method still carries it.
    const get = await exchange(
      gateway.port,
      `GET http://${target}/ HTTP/1.1\r\nhost: ${target}\r\nconnection: close\r\n\r\n`,
    );
    expect(get).toMatch(/^HTTP\/1\.1 200/);
    expect(budget.refunds).toBe(1);
  });

  it.each([
    // Node's client reads `099`; its server throws writing it (test/integration/egress-hostile-upstream.test.ts).
    ['a status its server may not write', 'HTTP/1.1 099 Odd\r\n\r\n'],
    // The gateway sends no Upgrade (a hop-by-hop header): a switch it never asked for, whose
    // request Node's client would end with neither an answer nor an error, so unanswered, unaudited.
    [
      'a switch of protocols',
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: x\r\nconnection: upgrade\r\n\r\n',
    ],
  ])('answers 502 for an upstream answer of %s, and audits it as such', async (_, text) => {
    const odd = createServer((socket) => socket.once('data', () => socket.end(text)));
    const port = await listening(odd);
    atTestEnd(() => odd.close());
    const gateway = await proxy(port);
    const target = `127.0.0.1:${port}`;
    const answer = await exchange(gateway.port, `GET http://${target}/ HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 502/);
    expect(answer).toContain('"reason":"bad_upstream_response"');
    expect(gateway.events).toMatchObject([
      { decision: 'permit', reason: 'bad_upstream_response', call: { status: 502, method: 'GET' } },
    ]);
  });
});
