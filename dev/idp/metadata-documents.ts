// Client ID Metadata Documents at the development IdP: a client whose client_id is an https URL
// (https://vscode.dev/oauth/client-metadata.json, say) is described by the JSON document at that URL,
// which oidc-provider fetches, checks (client_id equal to the URL, no shared secrets) and caches.
//
// Fetching a URL a stranger chose is a server-side request forgery risk. oidc-provider's fetch
// refuses connections to special-use addresses (loopback, private and link-local networks), answers
// only 200, caps the body size and times out after 2.5 s; the client_id must be https. Development
// adds one thing on purpose: origins listed in `localMetadataOrigins` (https on this machine, with the
// certificate to trust) are fetched directly, so a client developer or a test can serve a document
// locally. http document URLs stay refused: the MCP specification and both SDKs require https.
import { Agent, fetch as undiciFetch } from 'undici';
import type { Client, Configuration, KoaContextWithOIDC } from 'oidc-provider';

import type { LocalMetadataOrigin } from './dev-idp-options.ts';
import { grantProblem } from './client-policy.ts';

type FetchOption = NonNullable<Configuration['fetch']>;

export function metadataDocumentFeature(): NonNullable<
  NonNullable<Configuration['features']>['clientIdMetadataDocument']
> {
  return {
    enabled: true,
    // oidc-provider 9.13 implements draft-02 of the specification; the acknowledgement pins it, so an
    // upgrade that moves to another draft fails at start-up instead of changing behaviour silently.
    ack: 'draft-02',
    // A document vouches for its own redirect URIs (they share the https origin's owner), but the
    // client it describes gets no more than a registered user client: no client credentials.
    allowClient: (_ctx: KoaContextWithOIDC, client: Client) =>
      grantProblem(client.grantTypes ?? []) === undefined,
    // Documents change rarely; a short lower bound lets a developer see an edit within a minute.
    cacheDuration: { min: 30, max: 60 * 60 },
  };
}

/** oidc-provider's `fetch`: local development origins trusted by certificate, everything else as is. */
export function metadataFetch(localOrigins: LocalMetadataOrigin[]): FetchOption {
  const agents = new Map(
    localOrigins.map(({ origin, ca }) => [origin, new Agent({ connect: { ca } })] as const),
  );
  return (url, options) => {
    const target = url instanceof Request ? url.url : String(url);
    const agent = agents.get(new URL(target).origin);
    if (!agent) return globalThis.fetch(url, options);
    // oidc-provider's SSRF-checking dispatcher would refuse the loopback address this origin is on.
    const { dispatcher: _refusesLoopback, ...rest } = options as RequestInit & { dispatcher?: unknown };
    const init: Parameters<typeof undiciFetch>[1] = {
      method: rest.method ?? 'GET',
      headers: Object.fromEntries(new Headers(rest.headers)),
      redirect: rest.redirect ?? 'manual',
      signal: rest.signal ?? null,
      dispatcher: agent,
    };
    // undici's Response is the one Node's fetch returns, typed by a separate copy of its types.
    const response: Promise<unknown> = undiciFetch(target, init);
    return response as Promise<Response>;
  };
}
