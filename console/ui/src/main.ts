// The console's single page: a header with who is signed in, and the page the URL's hash names.
// Hash routes keep every page one static document, so the server has one HTML page to guard.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, isApiError, post, SESSION_ENDED, type Me } from './api.ts';
import { ChartsPage } from './charts-page.ts';
import { EvidencePage } from './evidence-page.ts';
import { TenantPage } from './tenant-page.ts';
import { TenantsPage } from './tenants-page.ts';
import { visible } from './format.ts';

type Route = { page: 'tenants' } | { page: 'tenant' | 'evidence'; id: string } | { page: 'charts' };

/** A part of the hash, decoded; as written when it is no valid escape (anyone can write a link). */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function route(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decoded);
  if (parts[0] === 'charts') return { page: 'charts' };
  if (parts[0] === 'tenants' && parts[1])
    return { page: parts[2] === 'evidence' ? 'evidence' : 'tenant', id: parts[1] };
  return { page: 'tenants' };
}

function SignIn({ problem }: { problem?: string }) {
  return html`<main id="main">
    <h1>Bulkhead console</h1>
    ${problem ? html`<p role="alert">${problem}</p>` : null}
    <p>Operators and auditors sign in through the installation's identity provider.</p>
    <p><a class="button" href="/auth/login">Sign in</a></p>
  </main>`;
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>();
  const [current, setCurrent] = useState<Route>(route(location.hash));
  const [signingOut, setSigningOut] = useState<{ busy?: boolean; failed?: string }>({});
  const signedIn = useRef(false);
  signedIn.current = Boolean(me);
  useEffect(() => {
    get<Me>('/api/me').then(setMe, (error: unknown) => {
      setMe(null);
      if (!isApiError(error, 401)) setProblem(String((error as Error).message));
    });
    const onHash = (): void => setCurrent(route(location.hash));
    addEventListener('hashchange', onHash);
    // Sessions are short (they bound how long a role is trusted, docs/console.md): when one ends
    // under an open page, the page offers the sign-in instead of failing request by request.
    const onEnded = (): void => {
      // Not signed in yet (the first /api/me): the sign-in shows without a word.
      if (!signedIn.current) return;
      signedIn.current = false;
      setMe(null);
      setProblem('Your session has ended. Sign in again to continue.');
    };
    addEventListener(SESSION_ENDED, onEnded);
    return () => {
      removeEventListener('hashchange', onHash);
      removeEventListener(SESSION_ENDED, onEnded);
    };
  }, []);
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [current]);
  if (me === undefined)
    return html`<main id="main">
      <h1>Bulkhead console</h1>
      <p>Loading…</p>
    </main>`;
  if (me === null) return html`<${SignIn} problem=${problem} />`;
  // A sign-out the console did not confirm is shown, never passed over: before, the page went on to
  // the sign-in whatever the answer, and a person who believed they had signed out left a session
  // open behind them. Refused for want of a session, it has ended (the page shows it: SESSION_ENDED).
  const signOut = (): void => {
    setSigningOut({ busy: true });
    post<{ endSession?: string }>(me, '/auth/logout', {}).then(
      // Signed out here; then at the IdP, where it offers that (RP-initiated logout), which asks.
      (answer) => location.assign(answer.endSession ?? '/'),
      (error: unknown) =>
        setSigningOut(
          isApiError(error, 401)
            ? {}
            : {
                failed: `Sign-out failed: ${(error as Error).message}. Your session may still be open: sign out again.`,
              },
        ),
    );
  };
  const page =
    current.page === 'tenants'
      ? html`<${TenantsPage} />`
      : current.page === 'charts'
        ? html`<${ChartsPage} />`
        : current.page === 'tenant'
          ? html`<${TenantPage} me=${me} id=${current.id} />`
          : html`<${EvidencePage} me=${me} id=${current.id} />`;
  return html`<header>
      <p class="brand">Bulkhead console</p>
      <nav aria-label="Console">
        <a href="#/" aria-current=${current.page === 'tenants' ? 'page' : undefined}>Tenants</a>
        <a href="#/charts" aria-current=${current.page === 'charts' ? 'page' : undefined}>Charts</a>
      </nav>
      <p class="who">
        Signed in as <strong>${visible(me.sub)}</strong> (<span data-testid="role">${me.role}</span>)
        <button type="button" class="link" onClick=${signOut} disabled=${signingOut.busy}>Sign out</button>
      </p>
      ${signingOut.failed ? html`<p role="alert" class="sign-out-failed">${signingOut.failed}</p>` : null}
    </header>
    ${page}`;
}

const root = document.getElementById('app');
if (root) {
  root.replaceChildren();
  render(html`<${App} />`, root);
}
