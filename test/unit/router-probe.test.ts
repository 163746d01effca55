// The cross-tenant probe's verdicts against a stand-in router at the probe's own port (ToolCaller):
// an isolated router passes, a router that leaks the canary by id, by list or by `_meta` fails,
// and a probe that could not seed or ask anything fails instead of passing on nothing.
import { describe, expect, it } from 'vitest';
import { CANARY_KEY, crossTenantProbe, type ToolCaller } from '../../tenants/control-plane/router-probe.ts';

type Leak = 'none' | 'get' | 'list' | 'meta';
const ALL = ['records_create', 'records_get', 'records_list', 'records_delete', 'whoami'];

/** A router over per-tenant record stores; `leak` breaks isolation in one way. */
function fakeRouter(options: { leak?: Leak; tools?: Record<string, string[]> }) {
  const stores = new Map<string, Map<string, { id: string; key: string }>>();
  let next = 0;
  const storeOf = (tenant: string) => stores.get(tenant) ?? stores.set(tenant, new Map()).get(tenant)!;
  const refused = (code: string) => ({ isError: true, structuredContent: { error: { code } } });
  const connect = (tenant: string): Promise<ToolCaller> =>
    Promise.resolve({
      toolNames: () => Promise.resolve(options.tools?.[tenant] ?? ALL),
      call(name, args, meta) {
        const own = storeOf(tenant);
        const actsAs = options.leak === 'meta' && typeof meta?.tenant === 'string' ? meta.tenant : tenant;
        const visible = options.leak === 'get' ? [...stores.values()] : [storeOf(actsAs)];
        const found = (id: unknown) => visible.map((s) => s.get(id as string)).find(Boolean);
        if (name === 'records_create') {
          const existing = [...own.values()].find((r) => r.key === args.idempotency_key);
          const record = existing ?? {
            id: `00000000-0000-4000-8000-${String(++next).padStart(12, '0')}`,
            key: String(args.idempotency_key),
          };
          own.set(record.id, record);
          return Promise.resolve({ structuredContent: { record } });
        }
        if (name === 'records_get')
          return Promise.resolve(
            found(args.id) ? { structuredContent: { record: found(args.id) } } : refused('unknown_id'),
          );
        if (name === 'records_delete')
          return Promise.resolve(
            own.delete(args.id as string) ? { structuredContent: {} } : refused('unknown_id'),
          );
        if (name === 'records_list') {
          const all =
            options.leak === 'list'
              ? [...stores.values()].flatMap((s) => [...s.values()])
              : [...own.values()];
          return Promise.resolve({ structuredContent: { records: all } });
        }
        return Promise.resolve({ structuredContent: { tenant: actsAs } });
      },
      close: () => Promise.resolve(),
    });
  return { connect, stores };
}

describe('crossTenantProbe', () => {
  it('passes on an isolated router, having seeded and removed one canary', async () => {
    const router = fakeRouter({});
    const check = await crossTenantProbe({ target: 'acme', intruder: 'evil', connect: router.connect });
    expect(check.pass, check.why).toBe(true);
    expect(check.why).toMatch(
      /^wrote one canary record \S+ in "acme" and read it back as "acme"; canary removed afterwards; an agent of "evil" asked for it by id: refused \(unknown_id\)/,
    );
    expect(router.stores.get('acme')?.size).toBe(0);
  });

  it.each([
    ['get', /LEAKED to "evil": records_get \S+ answered; records_get \S+ with _meta naming "acme" answered$/],
    ['list', /LEAKED to "evil": records_list showed \S+$/],
    [
      'meta',
      /LEAKED to "evil": records_get \S+ with _meta naming "acme" answered; whoami with _meta naming "acme" ran as "acme"$/,
    ],
  ] as [Leak, RegExp][])('fails when the router leaks the canary (%s)', async (leak, why) => {
    const check = await crossTenantProbe({
      target: 'acme',
      intruder: 'evil',
      connect: fakeRouter({ leak }).connect,
    });
    expect(check.pass).toBe(false);
    expect(check.why).toMatch(why);
  });

  it('keeps one canary under a stable key when the target may not delete, and reuses it', async () => {
    const router = fakeRouter({ tools: { acme: ['records_create', 'records_get', 'records_list'] } });
    for (let i = 0; i < 3; i++) {
      const check = await crossTenantProbe({ target: 'acme', intruder: 'evil', connect: router.connect });
      expect(check.pass, check.why).toBe(true);
      expect(check.why).toContain('canary kept');
    }
    expect([...(router.stores.get('acme')?.values() ?? [])].map((r) => r.key)).toEqual([CANARY_KEY]);
  });

  it.each([
    ['acme', /^nothing probed: the agent of "acme" may not call records_create, records_get/],
    ['evil', /^nothing probed: the agent of "evil" may not call records_get, records_list/],
  ])('fails, having probed nothing, when the agent of %s may not take part', async (who, why) => {
    const router = fakeRouter({ tools: { [who]: ['whoami'] } });
    const check = await crossTenantProbe({ target: 'acme', intruder: 'evil', connect: router.connect });
    expect(check).toMatchObject({ id: 'router.cross-tenant', pass: false });
    expect(check.why).toMatch(why);
    expect(router.stores.get('acme')?.size ?? 0).toBe(0);
  });
});
