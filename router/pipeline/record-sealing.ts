// The router's idempotency records (a claim, then the write's result for replays) sealed before
// they reach Redis: AES-256-GCM under a key of the tenant's own, derived from the installation
// secret, with the record's Redis key as additional data. Redis is shared by every tenant and read
// by more than the router (the supervisor, the console, whoever holds a copy of its files); what a
// tenant's writes answered, and the digests of their arguments (which, unkeyed, could be reversed by
// trying small values), are not readable there without the secret. A record moved to another
// tenant's, tool's or key's place, or changed by a byte, does not open.
import { openText, sealText } from '../../kernel/secrets/aead.ts';
import { TenantKeys, tenantKey, type KeyLabel } from '../../kernel/secrets/tenant-keys.ts';

/** What a sealed record starts with: the format's version (another version does not open). */
const SEALED_PREFIX = 'v1.';
/** The records' label (kernel/secrets/tenant-keys.ts), another than the audit digests'. */
const RECORD_KEY_LABEL: KeyLabel = { salt: 'bulkhead-idempotency', info: 'bulkhead idempotency records v1' };

/**
 * The tenant's key for its idempotency records: HKDF-SHA256(installation secret, salt =
 * "bulkhead-idempotency", info = "bulkhead idempotency records v1" NUL tenant), 32 bytes (tenantKey).
 */
export function recordKey(secret: Uint8Array | string, tenant: string): Buffer {
  return tenantKey(secret, RECORD_KEY_LABEL, tenant);
}

export class RecordSealer {
  /** Per-tenant keys of this process, derived once each (a tenant's key is used on every write). */
  readonly #keys: TenantKeys;

  constructor(secret: Uint8Array | string) {
    this.#keys = new TenantKeys(secret, RECORD_KEY_LABEL);
  }

  /** `text` sealed for `tenant` at `place` (the record's Redis key): "v1." and base64url of the sealed bytes. */
  seal(tenant: string, place: string, text: string): string {
    return SEALED_PREFIX + sealText(this.#keys.get(tenant), place, text).toString('base64url');
  }

  /**
   * The text sealed for `tenant` at `place`; undefined when `sealed` was not (another tenant's or
   * place's record, a changed byte, another secret, another format, or no record at all).
   */
  open(tenant: string, place: string, sealed: string): string | undefined {
    if (!sealed.startsWith(SEALED_PREFIX)) return undefined;
    try {
      return openText(
        this.#keys.get(tenant),
        place,
        Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url'),
      );
    } catch {
      return undefined;
    }
  }
}
