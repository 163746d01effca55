// Keys of one tenant derived from the installation's secret, one label (salt and info) per use: the
// audit's argument digests (kernel/audit/audit-record.ts) and the router's idempotency records
// (router/pipeline/record-sealing.ts). HKDF-SHA256(secret, salt, info NUL tenant), 32 bytes: one
// tenant's key says nothing about another's, one use's nothing about another's, and none can be
// computed without the secret.
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/** What a use binds its keys to, so that the same secret gives unrelated keys for other uses. */
export interface KeyLabel {
  salt: string;
  info: string;
}

export function tenantKey(secret: Uint8Array | string, label: KeyLabel, tenant: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, label.salt, `${label.info}\0${tenant}`, 32));
}

/**
 * One use's tenant keys in one process, each derived once and kept as a key object: a keyed
 * operation on raw key bytes imports them anew every time (about 15 µs for an HMAC's key).
 */
export class TenantKeys {
  readonly #secret: Uint8Array | string;
  readonly #label: KeyLabel;
  readonly #keys = new Map<string, KeyObject>();

  constructor(secret: Uint8Array | string, label: KeyLabel) {
    this.#secret = secret;
    this.#label = label;
  }

  get(tenant: string): KeyObject {
    let key = this.#keys.get(tenant);
    if (!key) {
      key = createSecretKey(tenantKey(this.#secret, this.#label, tenant));
      this.#keys.set(tenant, key);
    }
    return key;
  }
}
