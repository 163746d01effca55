// oidc-provider's storage for the development IdP: in memory, like oidc-provider's own quick-start
// adapter, but one store the IdP owns rather than one per Provider instance. The IdP builds a new
// Provider when the scopes its resources advertise change (dev-idp.ts); clients, grants, sessions,
// interactions and refresh tokens must outlive that, so every instance is handed this same store.
// Development only: nothing survives a restart and nothing is shared between processes.
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

/** Bounds the store like oidc-provider's own (an LRU of 1000 per model family): oldest go first. */
const MAX_ENTRIES = 10_000;
/** Models whose entries belong to a grant (revoked together by revokeByGrantId). */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode']);

interface Entry {
  payload: AdapterPayload;
  /** Epoch ms; undefined: until the process ends or the store is full. */
  expiresAt: number | undefined;
}

export function memoryStore(clockToleranceSeconds = 0): AdapterFactory {
  const entries = new Map<string, Entry>();
  /** `Session` uid -> id, so findByUid works. */
  const byUid = new Map<string, string>();
  /** grant id -> keys of its tokens. */
  const grants = new Map<string, Set<string>>();

  const live = (key: string): AdapterPayload | undefined => {
    const entry = entries.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry?.payload;
  };

  return (model: string): Adapter => {
    const keyOf = (id: string) => `${model}:${id}`;
    return {
      upsert(id, payload, expiresIn) {
        const key = keyOf(id);
        entries.delete(key);
        const expiresAt =
          expiresIn === undefined ? undefined : Date.now() + (expiresIn + clockToleranceSeconds) * 1000;
        entries.set(key, { payload, expiresAt });
        if (model === 'Session' && typeof payload.uid === 'string') byUid.set(payload.uid, id);
        if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
          const members = grants.get(payload.grantId) ?? new Set<string>();
          grants.set(payload.grantId, members.add(key));
        }
        for (const map of [entries, byUid, grants]) trim(map);
        return Promise.resolve();
      },
      find: (id) => Promise.resolve(live(keyOf(id))),
      findByUid(uid) {
        const id = byUid.get(uid);
        return Promise.resolve(id === undefined ? undefined : live(keyOf(id)));
      },
      // The device flow is off (dev/idp/provider-configuration.ts): no user codes to look up.
      findByUserCode: () => Promise.resolve(undefined),
      consume(id) {
        const payload = live(keyOf(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
        return Promise.resolve();
      },
      destroy(id) {
        const key = keyOf(id);
        const payload = live(key);
        entries.delete(key);
        if (typeof payload?.uid === 'string' && byUid.get(payload.uid) === id) byUid.delete(payload.uid);
        return Promise.resolve();
      },
      revokeByGrantId(grantId) {
        for (const key of grants.get(grantId) ?? []) entries.delete(key);
        grants.delete(grantId);
        return Promise.resolve();
      },
    };
  };
}

function trim(map: Map<string, unknown>): void {
  for (const oldest of map.keys()) {
    if (map.size <= MAX_ENTRIES) return;
    map.delete(oldest);
  }
}
