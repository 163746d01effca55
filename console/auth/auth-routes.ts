// Signing in and out, and the two checks every request meets: a session for everything under
// /api, and for every action also the same Origin as the console and the session's CSRF token
// (a synchronizer token sent as a header, which a cross-site form cannot set).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { unansweredByRedis } from '../../kernel/redis/redis-unanswered.ts';
import { cookie, escapeHtml, readCookie, sendHtml, sendJson, type CookieOptions } from '../http/http-kit.ts';
import type { OidcClient } from './oidc-client.ts';
import { PENDING_TTL_MS, type PendingSignIns } from './pending-sign-in.ts';
import { csrfMatches, isSessionId, type Session, type Sessions } from './sessions.ts';

/**
 * The cookies' names. Over https both carry a prefix the browser enforces: it takes a `__Host-`
 * cookie only if Secure, with Path=/ and no Domain, and a `__Secure-` one only if Secure, so neither
 * can be planted or overwritten from a sibling subdomain or a plain-http answer for the same host
 * (cookie tossing: a session fixed by an attacker). The sign-in cookie goes to one path, which
 * `__Host-` forbids. Over http (the development stack on loopback) neither prefix nor Secure:
 * Chromium and Firefox take a Secure cookie from http://localhost, Safari drops it, and nobody could
 * sign in there.
 */
export function cookieNames(secure: boolean): { session: string; signIn: string } {
  return secure
    ? { session: '__Host-bulkhead_console', signIn: '__Secure-bulkhead_console_signin' }
    : { session: 'bulkhead_console', signIn: 'bulkhead_console_signin' };
}
/** The sign-in cookie goes back only to the callback, its one reader. */
const SIGN_IN_PATH = '/auth/callback';
export const CSRF_HEADER = 'x-csrf-token';
/** The callback's page when Redis does not answer. */
export const UNAVAILABLE =
  "The console's session store did not answer, so no session was opened. Try again in a moment.";

export interface AuthRoutesOptions {
  oidc: OidcClient;
  /** The signed-in sessions, in Redis: any console process of the installation serves them. */
  sessions: Sessions;
  /** Seals each sign-in in progress into its browser's cookie (none is kept here). */
  signIns: PendingSignIns;
  /** The console's origin as people open it. */
  origin: string;
  sessionTtlMs: number;
}

export class AuthRoutes {
  readonly #options: AuthRoutesOptions;
  readonly #secure: boolean;
  readonly #names: { session: string; signIn: string };

  constructor(options: AuthRoutesOptions) {
    this.#options = options;
    this.#secure = options.origin.startsWith('https:');
    this.#names = cookieNames(this.#secure);
  }

  #cookie(name: string, value: string, options: Omit<CookieOptions, 'secure'>): string {
    return cookie(name, value, { ...options, secure: this.#secure });
  }

  /**
   * GET /auth/login: to the provider, with this browser's sign-in sealed in its own cookie, and the
   * session this browser holds now, if any, which the sign-in's new session replaces.
   */
  login(req: IncomingMessage, res: ServerResponse): void {
    const { pending, url } = this.#options.oidc.begin();
    const held = readCookie(req, this.#names.session);
    // Lax: the provider's redirect back is a cross-site top-level navigation in a real deployment.
    res.setHeader(
      'set-cookie',
      this.#cookie(
        this.#names.signIn,
        this.#options.signIns.seal({ ...pending, replaces: isSessionId(held) ? held : undefined }),
        {
          path: SIGN_IN_PATH,
          sameSite: 'Lax',
          maxAge: PENDING_TTL_MS / 1000,
        },
      ),
    );
    res.writeHead(302, { location: url, 'cache-control': 'no-store' }).end();
  }

  /** GET /auth/callback: completes the sign-in this browser started, then opens a session. */
  async callback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    // A forged, changed or expired cookie opens to nothing, like a missing one. Used or not, the
    // cookie is cleared below; a copy presented again brings a code the provider has already spent.
    const pending = this.#options.signIns.open(readCookie(req, this.#names.signIn));
    const clear = this.#cookie(this.#names.signIn, '', { path: SIGN_IN_PATH, sameSite: 'Lax', maxAge: 0 });
    if (!pending) {
      res.setHeader('set-cookie', clear);
      return page(res, 400, 'Sign-in expired', 'This sign-in was not started here or took too long.');
    }
    try {
      const user = await this.#options.oidc.complete(pending, url.searchParams);
      // The session this browser's new cookie replaces ends, at every console process: a copy of
      // the old cookie opens nothing once the browser signed in again. The one it held at
      // /auth/login, and the one this request carries where the provider is on the console's site.
      for (const replaced of new Set([pending.replaces, readCookie(req, this.#names.session)]))
        await this.#options.sessions.close(replaced);
      const id = await this.#options.sessions.open(user);
      res.setHeader('set-cookie', [
        clear,
        this.#cookie(this.#names.session, id, {
          path: '/',
          sameSite: 'Strict',
          maxAge: Math.floor(this.#options.sessionTtlMs / 1000),
        }),
      ]);
      // A Strict cookie is not sent on the rest of a redirect chain the provider started: the
      // console's own page moves the browser on, a same-site navigation.
      sendHtml(
        res,
        200,
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>Signed in</title></head><body><main><p>Signed in. <a href="/">Open the console</a>.</p></main></body></html>`,
      );
    } catch (error) {
      res.setHeader('set-cookie', clear);
      // Redis (the sessions) gave no answer: an outage to wait out, not a refusal of this person.
      // The provider's code is spent either way: trying again is a new sign-in.
      if (unansweredByRedis(error)) {
        res.setHeader('retry-after', '5');
        return page(res, 503, 'Not signed in', UNAVAILABLE);
      }
      const known = error instanceof BulkheadError;
      page(
        res,
        known && error.code === 'role_required' ? 403 : 400,
        'Not signed in',
        known ? error.message : 'The sign-in failed.',
      );
    }
  }

  /** The signed-in session, or sign_in_required. */
  async session(req: IncomingMessage): Promise<Session> {
    const session = await this.#options.sessions.get(readCookie(req, this.#names.session));
    if (!session) throw new BulkheadError('sign_in_required', 'sign in first: /auth/login');
    return session;
  }

  /** An action: from the console's own origin, carrying the session's CSRF token. */
  checkAction(req: IncomingMessage, session: Session): void {
    if (req.headers.origin !== this.#options.origin)
      throw new BulkheadError('csrf_rejected', 'actions are accepted only from the console itself (Origin)');
    const presented = req.headers[CSRF_HEADER];
    if (!csrfMatches(session, typeof presented === 'string' ? presented : undefined))
      throw new BulkheadError('csrf_rejected', `the action lacks this session's ${CSRF_HEADER}`);
  }

  /**
   * POST /auth/logout (an action like any other): the session ends at every console process. Where
   * the provider offers RP-initiated logout, the answer names its end-session URL, where the page
   * then sends the browser: signing in again after a sign-out asks the provider again, instead of
   * its own session answering for the person at once (a browser left signed in at the IdP).
   */
  async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = await this.session(req);
    this.checkAction(req, session);
    await this.#options.sessions.close(readCookie(req, this.#names.session));
    res.setHeader(
      'set-cookie',
      this.#cookie(this.#names.session, '', { path: '/', sameSite: 'Strict', maxAge: 0 }),
    );
    const endSession = this.#options.oidc.endSessionUrl;
    if (endSession === undefined) res.writeHead(204).end();
    else sendJson(res, 200, { endSession });
  }
}

function page(res: ServerResponse, status: number, title: string, message: string): void {
  sendHtml(
    res,
    status,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><link rel="stylesheet" href="/assets/main.css"></head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p><a href="/auth/login">Sign in again</a></p></main></body></html>`,
  );
}
