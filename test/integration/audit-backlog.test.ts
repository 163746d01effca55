// The audit backlog (kernel/audit/audit-backlog.ts) against a redis-server of the test's own behind a
// relay that can cut a command's answer and refuse connections (test/support/freezing-proxy.ts),
// with a stock ioredis client: a run Redis wrote whose answer never came back (the connection cut,
// Redis unreachable until the client gave the command up) is not written again, though another
// writer appended after it meanwhile; and at close, what Redis does not take is logged with its
// count and the entries themselves.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditBacklog } from '../../kernel/audit/audit-backlog.ts';
import { AuditTrail, type AuditEvent } from '../../kernel/audit/audit-trail.ts';
import { startRelayedRedis, type RelayedRedis } from '../support/freezing-proxy.ts';
import { until } from '../support/until.ts';

let relayed: RelayedRedis;
let direct: Redis;

beforeAll(async () => {
  relayed = await startRelayedRedis('audit-backlog');
  direct = new Redis({ path: relayed.server.socketPath!, password: relayed.password });
});

afterAll(async () => {
  direct.disconnect();
  await relayed.close();
});

/** A logger whose lines the test reads. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

/** A backlog on a stock ioredis client through the relay, its lines read by the test. */
function backlogThroughRelay(prefix: string, options: { maxRetriesPerRequest?: number } = {}) {
  const client = new Redis({ path: relayed.proxy.socketPath, password: relayed.password, ...options });
  client.on('error', () => undefined);
  const { logger, lines } = capturedLogger();
  const trail = new AuditTrail({ redis: client, prefix });
  const backlog = new AuditBacklog({ trail, redis: client, prefix, logger, limit: 100 });
  const failed = () =>
    until(() => lines.some((l) => l.msg === 'audit append failed: entries kept, retrying'), 'a failure');
  return { client, backlog, lines, failed };
}

const event = (tenant: string, reason: string): AuditEvent => ({
  tenant,
  user: null,
  agent: null,
  tool: 'egress',
  decision: 'permit',
  reason,
});

describe('the audit backlog', () => {
  it('does not write a run again that Redis wrote before its answer was lost', async () => {
    const prefix = `backlog-cut-${Date.now()}`;
    // maxRetriesPerRequest: a command in flight on a dropped connection is given up (rejected)
    // after this many failed reconnects, though Redis may have run it: the ambiguous failure.
    const { client, backlog, failed } = backlogThroughRelay(prefix, { maxRetriesPerRequest: 1 });
    try {
      backlog.add(event('acme', 'first'));
      await until(() => backlog.waiting === 0, 'the first entry written');
      // The next run reaches Redis, its answer does not; no connection is taken until told.
      relayed.proxy.cutAfter('second');
      relayed.proxy.refuseConnections();
      backlog.add(event('acme', 'second'));
      await failed();
      // Another process (a router) appends meanwhile: the run is no longer at the head.
      await new AuditTrail({ redis: direct, prefix }).append(event('acme', 'router'));
      await relayed.proxy.acceptConnections();
      await until(() => backlog.waiting === 0, 'the backlog drained');
      const reader = new AuditTrail({ redis: direct, prefix });
      expect((await reader.entries('acme')).map((e) => e.reason)).toEqual(['first', 'second', 'router']);
      expect(await reader.verify('acme')).toMatchObject({ ok: true, entries: 3 });
    } finally {
      await backlog.close();
      client.disconnect();
    }
  });

  it('at close, logs what Redis did not take: its count and the entries', async () => {
    const prefix = `backlog-close-${Date.now()}`;
    const { client, backlog, lines, failed } = backlogThroughRelay(prefix);
    await direct.config('SET', 'maxmemory', '1');
    try {
      for (const reason of ['a', 'b', 'c']) backlog.add(event('acme', reason));
      await failed();
      await backlog.close();
    } finally {
      await direct.config('SET', 'maxmemory', '0');
      client.disconnect();
    }
    const lost = lines.find(
      (l) => l.msg === 'audit entries not written at shutdown: this log is their only record',
    );
    expect(lost).toMatchObject({ level: 60, tenant: 'acme', count: 3 });
    expect((lost?.entries as AuditEvent[]).map((e) => e.reason)).toEqual(['a', 'b', 'c']);
    expect(backlog.waiting).toBe(0);
    expect(await new AuditTrail({ redis: direct, prefix }).entries('acme')).toEqual([]);
  });

  it('at close, writes what waits when Redis takes it again', async () => {
    const prefix = `backlog-last-${Date.now()}`;
    const { client, backlog, lines, failed } = backlogThroughRelay(prefix);
    await direct.config('SET', 'maxmemory', '1');
    for (const reason of ['a', 'b']) backlog.add(event('acme', reason));
    await failed();
    await direct.config('SET', 'maxmemory', '0');
    await backlog.close();
    client.disconnect();
    expect(lines.filter((l) => l.level === 60)).toEqual([]);
    const written = await new AuditTrail({ redis: direct, prefix }).entries('acme');
    expect(written.map((e) => e.reason)).toEqual(['a', 'b']);
  });
});
