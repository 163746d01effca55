// A sign-in in progress (state, nonce, PKCE verifier) travels in the cookie of the browser that
// started it, sealed, instead of in the console's memory. Anyone who can reach the console may start
// sign-ins; kept server-side in a bounded store, a loop of them evicted every other browser's, whose
// callback then failed. Sealed in the browser, each waits in its own cookie, and no request, signed
// in or not, can push out another's. AES-256-GCM (kernel/secrets/aead.ts) under a key this process
// draws at start: no one else needs to open it, and a restart loses the sign-ins in progress, as it
// did when they lived in memory. The additional data names the purpose, the plaintext its expiry.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { openText, sealText } from '../../kernel/secrets/aead.ts';
import type { PendingSignIn } from './oidc-client.ts';

/** How long a sign-in may take at the provider, from /auth/login to /auth/callback. */
export const PENDING_TTL_MS = 10 * 60 * 1000;
/** The additional data: a value sealed under the same key for anything else does not open here. */
const PURPOSE = 'bulkhead console pending sign-in v1';
/** What a sealed sign-in starts with: the format's version (another version does not open). */
const PREFIX = 'v1.';

const Sealed = z.strictObject({
  state: z.string().min(1),
  nonce: z.string().min(1),
  verifier: z.string().min(1),
  expiresAtMs: z.number().int(),
});

export class PendingSignIns {
  readonly #key: Buffer;
  readonly #now: () => number;

  /** `key`: 32 bytes, a fresh random one by default; `now`: the clock expiry is read from (tests). */
  constructor(options: { key?: Buffer; now?: () => number } = {}) {
    this.#key = options.key ?? randomBytes(32);
    this.#now = options.now ?? Date.now;
  }

  /** The cookie value: "v1." and base64url of the sealed sign-in and its expiry. */
  seal(pending: PendingSignIn): string {
    const { state, nonce, verifier } = pending;
    const body = { state, nonce, verifier, expiresAtMs: this.#now() + PENDING_TTL_MS };
    return PREFIX + sealText(this.#key, PURPOSE, JSON.stringify(body)).toString('base64url');
  }

  /**
   * The sign-in `value` holds; undefined when there is none, it was not sealed by this process for
   * this purpose (another key, a changed or cut byte, another format) or its time is up.
   */
  open(value: string | undefined): PendingSignIn | undefined {
    if (value === undefined || !value.startsWith(PREFIX)) return undefined;
    let text: string;
    try {
      text = openText(this.#key, PURPOSE, Buffer.from(value.slice(PREFIX.length), 'base64url'));
    } catch {
      return undefined;
    }
    const body = Sealed.safeParse(JSON.parse(text));
    if (!body.success || body.data.expiresAtMs <= this.#now()) return undefined;
    const { state, nonce, verifier } = body.data;
    return { state, nonce, verifier };
  }
}
