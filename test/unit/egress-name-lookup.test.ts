// Resolving an allowed host name at admission (egress/name-lookup.ts, egress/admission.ts): a
// lookup that never answers is refused at the deadline; one tenant's hung lookups, as many as it
// may have, leave another tenant's lookups as fast as ever; a slot comes back only when its lookup
// settles. The resolver is a fake at the port (`lookup`) modelling libuv's threadpool as getaddrinfo
// meets it: 2 lookups (half the default pool of 4) run at once, the rest wait for a thread, and a
// hung one holds its thread until the test lets go. test/integration/egress-name-lookup.test.ts
// has real getaddrinfo calls hang. An upstream's budget is charged only once the name resolved to
// an address the request may reach.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { admit } from '../../egress/admission.ts';
import {
  LOOKUP_DEADLINE_MS,
  MAX_LOOKUPS_PER_TENANT,
  NameResolver,
  type LookupAll,
  type NameResolverOptions,
} from '../../egress/name-lookup.ts';
import type { UpstreamBudget } from '../../egress/upstream-budget.ts';
import { EgressPolicySchema } from '../../kernel/tenant/egress-policy.ts';

const PUBLIC = '93.184.215.14';
const policy = EgressPolicySchema.parse({
  mode: 'allowlist',
  hosts: ['api.example.test', '*.slow.example.test'],
  packs: {},
  upstreams: {},
});
const budget: UpstreamBudget = { take: () => Promise.resolve(undefined), refund: () => Promise.resolve() };

/** libuv's pool as getaddrinfo meets it: `threads` lookups at once; a `*.slow.example.test` name hangs. */
function threadpool(threads = 2) {
  let busy = 0;
  const queued: (() => void)[] = [];
  const hung: (() => void)[] = [];
  const started: string[] = [];
  const lookup: LookupAll = async (host) => {
    if (busy < threads) busy++;
    else await new Promise<void>((resolve) => queued.push(resolve));
    started.push(host);
    try {
      if (host.endsWith('.slow.example.test')) await new Promise<void>((resolve) => hung.push(resolve));
      return [{ address: PUBLIC }];
    } finally {
      const next = queued.shift();
      if (next) next();
      else busy--;
    }
  };
  return { lookup, started, hung, release: () => hung.shift()?.() };
}

function admitter(options: NameResolverOptions) {
  const names = new NameResolver(options);
  const ask = (tenant: string, host: string) =>
    admit({ tenant, policy, pack: undefined, dest: { host, port: 443 }, budget, names, auditFull: false });
  return { names, ask };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('resolving an allowed host name', () => {
  it('refuses a lookup that never settles once the deadline passes, with upstream_unreachable', async () => {
    vi.useFakeTimers();
    const { ask } = admitter({ lookup: () => new Promise(() => undefined) });
    let verdict: Awaited<ReturnType<typeof ask>> | undefined;
    void ask('acme', 'a.slow.example.test').then((v) => (verdict = v));
    await vi.advanceTimersByTimeAsync(LOOKUP_DEADLINE_MS - 1);
    expect(verdict).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(verdict).toEqual({
      status: 502,
      headers: {},
      body: {
        error: 'upstream_unreachable',
        reason: 'name_resolution_timeout',
        host: 'a.slow.example.test',
        port: 443,
        message: `the host name did not resolve within ${LOOKUP_DEADLINE_MS} ms`,
      },
    });
    expect(LOOKUP_DEADLINE_MS).toBeGreaterThanOrEqual(1_000);
    expect(LOOKUP_DEADLINE_MS).toBeLessThanOrEqual(10_000);
  });

  it("does not delay tenant B's lookup while tenant A holds its maximum of hung ones", async () => {
    // A fake clock that the test alone moves: B's answer comes while no time passes, so it waited
    // for none of A's lookups, their threads, or their deadline (no wall clock to be slow on).
    vi.useFakeTimers();
    const pool = threadpool();
    const { names, ask } = admitter({ lookup: pool.lookup, deadlineMs: 1_000 });
    // A floods: distinct names under its wildcard, more than the pool has threads.
    const flood = Array.from({ length: 10 }, (_, i) => ask('hostile', `n${i}.slow.example.test`));
    await vi.advanceTimersByTimeAsync(0);
    expect(pool.started).toHaveLength(MAX_LOOKUPS_PER_TENANT);
    expect(names.load('hostile')).toEqual({
      inFlight: MAX_LOOKUPS_PER_TENANT,
      waiting: 10 - MAX_LOOKUPS_PER_TENANT,
    });

    let neighbour: Awaited<ReturnType<typeof ask>> | undefined;
    void ask('neighbour', 'api.example.test').then((v) => (neighbour = v));
    await vi.advanceTimersByTimeAsync(0);
    expect(neighbour).toEqual({ address: PUBLIC });
    expect(pool.hung).toHaveLength(MAX_LOOKUPS_PER_TENANT);

    // A's requests are answered at the deadline; its lookups still hold their threads.
    await vi.advanceTimersByTimeAsync(1_000);
    for (const verdict of await Promise.all(flood))
      expect(verdict).toMatchObject({ status: 502, body: { reason: 'name_resolution_timeout' } });
    expect(pool.started.filter((h) => h.endsWith('.slow.example.test'))).toHaveLength(MAX_LOOKUPS_PER_TENANT);
    pool.hung.splice(0).forEach((release) => release());
  });

  it('shows what the bound prevents: without it, the same flood holds every thread and B times out', async () => {
    const pool = threadpool();
    const { ask } = admitter({ lookup: pool.lookup, deadlineMs: 200, maxPerTenant: 64 });
    const flood = Array.from({ length: 10 }, (_, i) => ask('hostile', `n${i}.slow.example.test`));
    expect(await ask('neighbour', 'api.example.test')).toMatchObject({
      status: 502,
      body: { reason: 'name_resolution_timeout' },
    });
    await Promise.all(flood);
    pool.hung.splice(0).forEach((release) => release());
  });

  it('gives a slot back when its hung lookup settles, not at the deadline', async () => {
    // A fake clock: the deadline passes only when the test moves it, never by a loaded machine.
    vi.useFakeTimers();
    const pool = threadpool();
    const { names, ask } = admitter({ lookup: pool.lookup, deadlineMs: 100 });
    const slow = Array.from({ length: MAX_LOOKUPS_PER_TENANT }, (_, i) => `n${i}.slow.example.test`);
    const timedOut = Promise.all(slow.map((host) => ask('acme', host)));
    await vi.advanceTimersByTimeAsync(100);
    for (const verdict of await timedOut)
      expect(verdict).toMatchObject({ body: { reason: 'name_resolution_timeout' } });
    // Past the deadline the lookups still run: the tenant's next request waits, its lookup unstarted.
    expect(names.load('acme')).toEqual({ inFlight: MAX_LOOKUPS_PER_TENANT, waiting: 0 });
    const next = ask('acme', 'api.example.test');
    await vi.advanceTimersByTimeAsync(20);
    expect(names.load('acme')).toEqual({ inFlight: MAX_LOOKUPS_PER_TENANT, waiting: 1 });
    expect(pool.started).toEqual(slow);

    pool.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(await next).toEqual({ address: PUBLIC });
    expect(pool.started).toEqual([...slow, 'api.example.test']);
    pool.hung.splice(0).forEach((release) => release());
    await vi.advanceTimersByTimeAsync(0);
    expect(names.load('acme')).toEqual({ inFlight: 0, waiting: 0 });
  });

  it('refuses at once, with name_resolution_busy, a request past the full waiting queue', async () => {
    const pool = threadpool();
    const { ask } = admitter({
      lookup: pool.lookup,
      deadlineMs: 100,
      maxPerTenant: 1,
      maxWaitingPerTenant: 1,
    });
    const held = [ask('acme', 'a.slow.example.test'), ask('acme', 'b.slow.example.test')];
    expect(await ask('acme', 'c.slow.example.test')).toMatchObject({
      status: 502,
      body: { error: 'upstream_unreachable', reason: 'name_resolution_busy', host: 'c.slow.example.test' },
    });
    await Promise.all(held);
    pool.hung.splice(0).forEach((release) => release());
  });

  it('answers a name that does not resolve as before, and keeps node’s lookup (/etc/hosts) by default', async () => {
    const { ask } = admitter({ lookup: () => Promise.reject(new Error('ENOTFOUND')) });
    expect(await ask('acme', 'api.example.test')).toMatchObject({
      status: 502,
      body: {
        error: 'upstream_unreachable',
        reason: 'name_not_resolved',
        message: 'the host name did not resolve',
      },
    });
    // The default is getaddrinfo, which reads /etc/hosts (no DNS server is reachable here).
    const resolved = await new NameResolver().resolve('acme', 'localhost');
    expect(resolved.ok && resolved.addresses.map((a) => a.address)).toContain('127.0.0.1');
  });

  it("charges an upstream's shared budget only for a name that resolved to an address it may reach", async () => {
    const charged: string[] = [];
    const counting: UpstreamBudget = {
      take: (upstream) => {
        charged.push(upstream);
        return Promise.resolve(undefined);
      },
      refund: () => Promise.resolve(),
    };
    const metered = EgressPolicySchema.parse({
      mode: 'allowlist',
      upstreams: { crm: { hosts: ['*.crm.example.test'] } },
    });
    const answers = new Map([
      ['api.crm.example.test', PUBLIC],
      ['inside.crm.example.test', '10.0.0.7'],
    ]);
    const names = new NameResolver({
      deadlineMs: 50,
      lookup: (host) => {
        if (host === 'slow.crm.example.test') return new Promise(() => undefined);
        const address = answers.get(host);
        return address ? Promise.resolve([{ address }]) : Promise.reject(new Error('ENOTFOUND'));
      },
    });
    const ask = (tenant: string, host: string) =>
      admit({
        tenant,
        policy: metered,
        pack: undefined,
        dest: { host, port: 443 },
        budget: counting,
        names,
        auditFull: false,
      });
    // None of these reaches the upstream: each is refused for its name or its address. (The name
    // that hangs is globex's, so that its held lookup slot delays none of acme's.)
    for (const [tenant, host, reason] of [
      ['acme', 'gone.crm.example.test', 'name_not_resolved'],
      ['acme', 'inside.crm.example.test', 'private_address'],
      ['globex', 'slow.crm.example.test', 'name_resolution_timeout'],
    ] as const)
      expect(await ask(tenant, host), host).toMatchObject({ body: { reason } });
    expect(charged).toEqual([]);
    expect(await ask('acme', 'api.crm.example.test')).toEqual({ address: PUBLIC, upstream: { name: 'crm' } });
    expect(charged).toEqual(['crm']);
  });
});
