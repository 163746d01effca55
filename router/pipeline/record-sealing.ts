// The router's idempotency records (a claim, then the write's result for replays) sealed before
// they reach Redis: AES-256-GCM under a key of the tenant's own, derived from the installation
// secret, with the record's Redis key as additional data. Redis is shared by every tenant and read
// by more than the router (the supervisor, the console, whoever holds a copy of its files); what a
// tenant's writes answered, and the digests of their arguments (which, unkeyed, could be reversed by
// trying small values), are not readable there without the secret. A record moved to another
// tenant's, tool's or key's place, or changed by a byte, does not open.
import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { openText, sealText } from '../../kernel/secrets/aead.ts';

/** What a sealed record starts with: the format's version (another version does not open). */
const SEALED_PREFIX = 'v1.';
const KEY_SALT = 'bulkhead-idempotency';
const KEY_INFO = 'bulkhead idempotency records v1';

/**
 * The tenant's key for its idempotency records: HKDF-SHA256(installation secret, salt =
 * "bulkhead-idempotency", info = "bulkhead idempotency records v1" NUL tenant), 32 bytes. Another
 * salt and info than the audit's digest keys (kernel/audit/audit-record.ts), so neither key says
 * anything about the other.
 */
export function recordKey(secret: Uint8Array | string, tenant: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, KEY_SALT, `${KEY_INFO}\0${tenant}`, 32));
}

export class RecordSealer {
  readonly #secret: Uint8Array | string;
  /** Per-tenant keys of this process, derived once each (a tenant's key is used on every write). */
  readonly #keys = new Map<string, KeyObject>();

  constructor(secret: Uint8Array | string) {
    this.#secret = secret;
  }

  #key(tenant: string): KeyObject {
    let key = this.#keys.get(tenant);
    if (!key) {
      key = createSecretKey(recordKey(this.#secret, tenant));
      this.#keys.set(tenant, key);
    }
    return key;
  }

  /** `text` sealed for `tenant` at `place` (the record's Redis key): "v1." and base64url of the sealed bytes. */
  seal(tenant: string, place: string, text: string): string {
    return SEALED_PREFIX + sealText(this.#key(tenant), place, text).toString('base64url');
  }

  /**
   * The text sealed for `tenant` at `place`; undefined when `sealed` was not (another tenant's or
   * place's record, a changed byte, another secret, another format, or no record at all).
   */
  open(tenant: string, place: string, sealed: string): string | undefined {
    if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
    try {
      return openText(this.#key(tenant), place, Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url'));
    } catch {
      return undefined;
    }
  }
}
