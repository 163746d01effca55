// The router's route table and the periodic tool check's view of it: whether a cached route still
// leads to the tenant's current runtime (its epoch, read without recording activity), and dropping a
// stale route without dropping the one a call renewed meanwhile. Stand-ins only at our own ports
// (RuntimeLocator, RuntimeStateView); no socket is opened.
import { describe, expect, it } from 'vitest';
import { DEFAULT_READ_BOUNDS } from '../../router/dispatch/bounded-fetch.ts';
import { TenantRoutes, type RuntimeStateView } from '../../router/dispatch/tenant-routes.ts';

function routesWith(view: RuntimeStateView & { epochs: Map<string, number>; touches: number }) {
  let ensured = 0;
  const routes = new TenantRoutes({
    runtimes: {
      ensure: () => Promise.reject(new Error('the routes ask for ensureRuntime')),
      ensureRuntime: (tenant) => {
        ensured++;
        return Promise.resolve({
          endpoint: { kind: 'unix', socketPath: `/nonexistent/${tenant}-${ensured}.sock`, uid: 1 },
          epoch: view.epochs.get(tenant) ?? 0,
          runtimeId: `runtime-${ensured}`,
        });
      },
    },
    stateView: view,
    freshnessMs: 0,
    bounds: DEFAULT_READ_BOUNDS,
  });
  return { routes, ensured: () => ensured };
}

/** A state view over an epoch map; `withEpoch` false: one that can only touch (no read alone). */
function stateView(withEpoch = true): RuntimeStateView & { epochs: Map<string, number>; touches: number } {
  const epochs = new Map<string, number>();
  const view = {
    epochs,
    touches: 0,
    touch: (tenant: string) => {
      view.touches++;
      return Promise.resolve(epochs.get(tenant) ?? 0);
    },
  };
  return withEpoch
    ? Object.assign(view, { epoch: (tenant: string) => Promise.resolve(epochs.get(tenant) ?? 0) })
    : view;
}

describe('tenant routes', () => {
  it('tells a current route from one whose runtime moved on, without recording activity', async () => {
    const view = stateView();
    const { routes } = routesWith(view);
    const route = await routes.fresh('acme');
    const touches = view.touches;
    expect(await routes.current('acme', route)).toBe(true);
    view.epochs.set('acme', 1); // paused, stopped or replaced
    expect(await routes.current('acme', route)).toBe(false);
    expect(view.touches).toBe(touches);
    await routes.close();
  });

  it('drops a stale route, but not the route a call renewed meanwhile', async () => {
    const view = stateView();
    const { routes, ensured } = routesWith(view);
    const stale = await routes.fresh('acme');
    view.epochs.set('acme', 1);
    // A call renews the route (the epoch moved), then the check drops the stale one it walked.
    const renewed = await routes.fresh('acme');
    expect(renewed).not.toBe(stale);
    await routes.forgetRoute('acme', stale);
    const established = [];
    for await (const [tenant, route] of routes.established()) established.push([tenant, route]);
    expect(established).toEqual([['acme', renewed]]);

    // The renewed route itself is dropped when it goes stale: the next call asks again.
    await routes.forgetRoute('acme', renewed);
    expect(ensured()).toBe(2);
    await routes.fresh('acme');
    expect(ensured()).toBe(3);
    await routes.close();
  });

  it('keeps a renewed route still being ensured, without waiting for it, when the old one is dropped', async () => {
    const view = stateView();
    let ensured = 0;
    let finish = (): void => undefined;
    let asked = (): void => undefined;
    const renewalAsked = new Promise<void>((resolve) => (asked = resolve));
    const routes = new TenantRoutes({
      runtimes: {
        ensure: () => Promise.reject(new Error('the routes ask for ensureRuntime')),
        ensureRuntime: async (tenant) => {
          ensured++;
          // The renewal waits, as an ensure does while the supervisor replaces the runtime.
          if (ensured === 2) {
            asked();
            await new Promise<void>((resolve) => (finish = resolve));
          }
          const socketPath = `/nonexistent/${tenant}-${ensured}.sock`;
          return { endpoint: { kind: 'unix', socketPath, uid: 1 }, epoch: view.epochs.get(tenant) ?? 0 };
        },
      },
      stateView: view,
      freshnessMs: 0,
      bounds: DEFAULT_READ_BOUNDS,
    });
    const old = await routes.fresh('acme');
    view.epochs.set('acme', 1);
    const renewing = routes.fresh('acme');
    await renewalAsked;
    // A call that held the old route fails and drops it: this returns while the renewal is pending.
    await routes.forgetRoute('acme', old);
    finish();
    const renewed = await renewing;
    expect(await routes.fresh('acme')).toBe(renewed);
    expect(ensured).toBe(2);
    await routes.close();
  });

  it('counts a route as current when its epoch cannot be known', async () => {
    const view = stateView();
    const { routes } = routesWith(view);
    const route = await routes.fresh('acme');
    expect(await routes.current('acme', { ...route, epoch: undefined })).toBe(true);
    const touchOnly = stateView(false);
    const without = routesWith(touchOnly);
    const other = await without.routes.fresh('acme');
    touchOnly.epochs.set('acme', 5);
    expect(await without.routes.current('acme', other)).toBe(true);
    await Promise.all([routes.close(), without.routes.close()]);
  });
});
