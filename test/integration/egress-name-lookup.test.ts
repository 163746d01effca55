// One gateway serves every tenant, and its host-name lookups share the process's libuv threadpool
// (egress/name-lookup.ts). A hostile tenant floods requests to names whose resolution hangs; a
// neighbour's request, resolved by node's real lookup (getaddrinfo, /etc/hosts) on that same pool,
// is answered at once, and the flood is refused at the deadline. On real Redis with the bridges in
// this process (test/support/egress.ts). No DNS server is reachable here, so the hang is the
// gateway's injected `lookup`: each hung lookup opens a FIFO for reading, which blocks a real
// threadpool thread until the test opens its other end, as a getaddrinfo waiting on its resolver does.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { lookup as nodeLookup } from 'node:dns/promises';
import { open } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { LOOKUP_DEADLINE_MS, MAX_LOOKUPS_PER_TENANT } from '../../egress/name-lookup.ts';
import { startLocalEgress, type LocalEgress } from '../support/egress.ts';

const FLOOD = 8;
const dir = mkdtempSync(join(tmpdir(), 'egress-lookup-'));
const fifo = join(dir, 'resolver');
/** Hung lookups holding a thread now, and the most at once. */
let holding = 0;
let peak = 0;

async function hang(): Promise<never> {
  peak = Math.max(peak, ++holding);
  const reader = await open(fifo, 'r');
  holding--;
  await reader.close();
  throw Object.assign(new Error('resolver gave up'), { code: 'EAI_AGAIN' });
}

/**
 * Lets the hung lookups blocked now return: a writer opening the FIFO wakes each reader blocked in
 * open (ENXIO: none is blocked in open at this moment).
 */
function releaseHung(): void {
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error;
  }
}

let local: LocalEgress;

beforeAll(async () => {
  execFileSync('mkfifo', [fifo]);
  local = await startLocalEgress({
    label: 'egress-lookup',
    // The hostile tenant: a wildcard rule, so each request may name a new host.
    egress: { mode: 'allowlist', hosts: ['*.hang.example.test'], packs: {}, upstreams: {} },
    others: { neighbour: { mode: 'allowlist', hosts: ['localhost'], packs: {}, upstreams: {} } },
    lookup: (host, options) => (host.endsWith('.hang.example.test') ? hang() : nodeLookup(host, options)),
  });
});

afterAll(async () => {
  await vi.waitFor(() => {
    releaseHung();
    expect(holding).toBe(0);
  });
  await local?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One GET through a tenant's bridge on a new connection: its status and JSON body. */
function get(port: number, url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: url, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
    });
    req.on('error', reject);
    req.end();
  });
}

it("answers a neighbour's request at once while a hostile tenant's hanging names are refused at the deadline", async () => {
  const hostile = local.ports.local!;
  const started = Date.now();
  const flood = Array.from({ length: FLOOD }, (_, i) => get(hostile, `http://n${i}.hang.example.test/`));
  await vi.waitFor(() => expect(holding).toBe(MAX_LOOKUPS_PER_TENANT), { timeout: 3_000 });

  // localhost resolves through /etc/hosts to loopback: refused as private, which takes a lookup.
  const before = Date.now();
  const neighbour = await get(local.ports.neighbour!, 'http://localhost/');
  expect(neighbour).toMatchObject({
    status: 403,
    body: { error: 'egress_denied', reason: 'private_address' },
  });
  expect(Date.now() - before).toBeLessThan(1_000);

  const answers = await Promise.all(flood);
  for (const answer of answers)
    expect(answer).toMatchObject({
      status: 502,
      body: {
        error: 'upstream_unreachable',
        reason: 'name_resolution_timeout',
        message: `the host name did not resolve within ${LOOKUP_DEADLINE_MS} ms`,
      },
    });
  expect(Date.now() - started).toBeGreaterThanOrEqual(LOOKUP_DEADLINE_MS);
  // The flood never held more threads than its bound: the rest waited, then were refused; the
  // two still hold theirs (and their slots) past the deadline.
  expect(peak).toBe(MAX_LOOKUPS_PER_TENANT);
  expect(holding).toBe(MAX_LOOKUPS_PER_TENANT);
});
