// A sign-in in progress (state, nonce, PKCE verifier) travels in the cookie of the browser that
// started it, sealed, instead of in the console's memory or in Redis. Anyone who can reach the
// console may start sign-ins; kept server-side in a bounded store, a loop of them evicted every other
// browser's, whose callback then failed, and kept in Redis unbounded, such a loop would fill the
// Redis every part of the installation shares. Sealed in the browser, each waits in its own cookie,
// and no request, signed in or not, can push out another's or store anything. AES-256-GCM
// (kernel/secrets/aead.ts) under a key every console process of the installation signing in as the
// same client derives alike (sharedSignInKey), so whichever console the provider's redirect reaches
// completes it. The additional data names the purpose, the plaintext its expiry.
import { hkdfSync, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { signInSeedKey } from '../../kernel/redis/keys.ts';
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
  replaces: z.string().optional(),
  expiresAtMs: z.number().int(),
});

/**
 * A sign-in in progress, and the session id the browser held when it began it (`replaces`): the
 * session its new cookie will replace, which the callback ends. The browser sends its SameSite=Strict
 * session cookie to /auth/login, a navigation from the console's own page, but not to the
 * callback, a redirect from the provider's site: only this cookie carries it there.
 */
export interface SealedSignIn extends PendingSignIn {
  replaces?: string | undefined;
}

/**
 * The sealing key of the installation's consoles that sign in as `clientId`: HKDF-SHA256 over a seed
 * of 32 random bytes the first console to start keeps in Redis (SET NX, so every console reads the
 * same) and the client secret, which Redis never holds. Redis read access alone opens no cookie, nor
 * can a weak client secret be guessed from one without the seed; a sign-in begun as another client
 * (whose code would not be exchanged as this one anyway) does not open.
 */
export async function sharedSignInKey(options: {
  redis: Redis;
  prefix: string;
  clientId: string;
  clientSecret: string;
}): Promise<Buffer> {
  const where = signInSeedKey(options.prefix);
  await options.redis.set(where, randomBytes(32).toString('base64url'), 'NX');
  const seed = Buffer.from((await options.redis.get(where)) ?? '', 'base64url');
  if (seed.length !== 32)
    throw new BulkheadError(
      'invalid_config',
      `${where} is not 32 bytes of base64url: delete it to draw another`,
    );
  const secret = Buffer.concat([seed, Buffer.from(options.clientSecret, 'utf8')]);
  return Buffer.from(hkdfSync('sha256', secret, 'bulkhead-console', `${PURPOSE}\0${options.clientId}`, 32));
}

export class PendingSignIns {
  readonly #key: Buffer;
  readonly #now: () => number;

  /** `key`: 32 bytes, a fresh random one by default; `now`: the clock expiry is read from (tests). */
  constructor(options: { key?: Buffer; now?: () => number } = {}) {
    this.#key = options.key ?? randomBytes(32);
    this.#now = options.now ?? Date.now;
  }

  /** The cookie value: "v1." and base64url of the sealed sign-in and its expiry. */
  seal(pending: SealedSignIn): string {
    const { state, nonce, verifier, replaces } = pending;
    const body = { state, nonce, verifier, replaces, expiresAtMs: this.#now() + PENDING_TTL_MS };
    return PREFIX + sealText(this.#key, PURPOSE, JSON.stringify(body)).toString('base64url');
  }

  /**
   * The sign-in `value` holds; undefined when there is none, it was not sealed under this key for
   * this purpose (another key, a changed or cut byte, another format) or its time is up.
   */
  open(value: string | undefined): SealedSignIn | undefined {
    if (value === undefined || !value.startsWith(PREFIX)) return undefined;
    let text: string;
    try {
      text = openText(this.#key, PURPOSE, Buffer.from(value.slice(PREFIX.length), 'base64url'));
    } catch {
      return undefined;
    }
    const body = Sealed.safeParse(JSON.parse(text));
    if (!body.success || body.data.expiresAtMs <= this.#now()) return undefined;
    const { state, nonce, verifier, replaces } = body.data;
    return replaces === undefined ? { state, nonce, verifier } : { state, nonce, verifier, replaces };
  }
}
