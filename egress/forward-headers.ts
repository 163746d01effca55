// The headers the egress proxy (egress/proxy.ts) passes on: end-to-end headers only, both ways, and
// for a forwarded request the Host and the body's framing the gateway decides, not the client.
import type { IncomingMessage } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export type Headers = Record<string, string | string[]>;

/** `headers` without the hop-by-hop ones and those their Connection header names. */
export function endToEnd(headers: IncomingMessage['headers']): Headers {
  const listed = String(headers.connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP_BY_HOP.has(name) && !listed.includes(name)) out[name] = value;
  return out;
}

/** The headers of `req`, forwarded to the upstream `url` names. */
export function forwardedHeaders(req: IncomingMessage, url: URL): Headers {
  const headers = endToEnd(req.headers);
  // The host checked is the host named: no other virtual host behind the same address.
  headers.host = url.host;
  // A chunked body stays chunked (Node's parser takes no other). Node would send a GET's,
  // DELETE's or OPTIONS' body unframed: a next request to the upstream, never checked or audited.
  const encoding = req.headers['transfer-encoding'];
  if (encoding !== undefined) headers['transfer-encoding'] = encoding;
  return headers;
}
