// The bearer token stops at authentication: once verified, the request that goes on (the Node
// request and the web Request the SDK's adapter makes of it) carries no Authorization header, in
// either form, while every other header goes on unchanged. A real HTTP server and Express; the token
// verifier, our own port, is a stub.
import type { AddressInfo } from 'node:net';
import { toWebRequest } from '@modelcontextprotocol/node';
import express from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerAuth, type AuthenticatedRequest } from '../../router/auth/bearer-auth.ts';
import type { VerifiedToken } from '../../router/auth/token-verifier.ts';
import { tenantRecord } from '../support/tenant.ts';

const TOKEN = `eyJ${'a'.repeat(1200)}.payload.signature`;

interface Seen {
  verified: string[];
  parsed: Record<string, unknown>;
  raw: string[];
  web: [string, string][];
  auth: AuthenticatedRequest['auth'];
}

let close: (() => Promise<void>) | undefined;

afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(): Promise<{ url: string; seen: Seen }> {
  const seen: Seen = { verified: [], parsed: {}, raw: [], web: [], auth: undefined };
  const verify = (token: string): Promise<VerifiedToken> => {
    seen.verified.push(token);
    return Promise.resolve({
      tenant: tenantRecord('acme'),
      principal: {
        tenant: 'acme',
        user: null,
        agent: 'agent-1',
        actors: [],
        scopes: ['records:read'],
        roles: [],
        issuer: 'https://idp.example',
        tokenId: undefined,
        expiresAt: Math.floor(Date.now() / 1000) + 300,
      },
    });
  };
  const app = express();
  app.post(
    '/mcp',
    bearerAuth({
      verify,
      resourceMetadataUrl: 'http://127.0.0.1/.well-known/oauth-protected-resource/mcp',
      scopesSupported: () => ['records:read'],
      logger: pino({ level: 'silent' }),
    }),
    async (req: AuthenticatedRequest, res) => {
      seen.parsed = { ...req.headers };
      seen.raw = [...req.rawHeaders];
      seen.auth = req.auth;
      const web = await toWebRequest(req, {});
      seen.web = [...web.headers.entries()];
      res.json({ ok: true });
    },
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`, seen };
}

describe('bearerAuth', () => {
  it('verifies the token, then passes the request on without it', async () => {
    const { url, seen } = await serve();
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'x-probe': 'kept' },
      body: '{}',
    });
    expect(response.status).toBe(200);
    expect(seen.verified).toEqual([TOKEN]);
    expect(seen.auth?.token).toBe('');
    expect(seen.auth?.extra.principal.agent).toBe('agent-1');
    expect(seen.parsed).not.toHaveProperty('authorization');
    expect(seen.parsed['x-probe']).toBe('kept');
    expect(seen.raw.map((item) => item.toLowerCase())).not.toContain('authorization');
    expect(seen.raw.join('\n')).not.toContain(TOKEN);
    expect(seen.raw).toContain('x-probe');
    expect(seen.web.map(([name]) => name)).not.toContain('authorization');
    expect(seen.web).toContainEqual(['x-probe', 'kept']);
  });

  it('reads the scheme in any case (RFC 9110 section 11.1), and refuses another scheme', async () => {
    const { url, seen } = await serve();
    const post = (authorization: string) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: '{}',
      });
    for (const scheme of ['bearer', 'BEARER', 'bEaReR'])
      expect((await post(`${scheme} ${TOKEN}`)).status).toBe(200);
    expect(seen.verified).toEqual([TOKEN, TOKEN, TOKEN]);
    for (const value of [`Basic ${TOKEN}`, `Bearer  ${TOKEN}`, `Bearer${TOKEN}`])
      expect((await post(value)).status, value).toBe(401);
    expect(seen.verified).toHaveLength(3);
  });

  it('refuses a request without a token before anything past it runs', async () => {
    const { url, seen } = await serve();
    const response = await fetch(url, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata=/);
    expect(seen.verified).toEqual([]);
    expect(seen.auth).toBeUndefined();
  });
});
