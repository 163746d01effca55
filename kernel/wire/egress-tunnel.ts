// The wire between the in-container egress bridge (runtime-image/src/egress-bridge.ts) and the egress
// gateway (egress/): the bridge listens on a unix socket in the tenant's socket directory and the
// gateway dials in (docs/security.md, "Egress"), keeping a few idle connections there. When a client
// inside the container opens a proxy connection, the bridge takes one idle connection, writes one
// preamble line naming the pack whose port the client used (and maybe a trace link), and then
// relays bytes both ways; the gateway reads an HTTP proxy request (CONNECT or absolute-form) after
// the line.

/** The bridge's socket, next to the runtime's own in the tenant's socket directory. */
export const EGRESS_SOCKET_NAME = 'egress.sock';

/** The loopback port of the tenant-wide proxy inside the container; packs get the ports after it. */
export const DEFAULT_EGRESS_PORT = 3128;

/** Written for a client of the tenant-wide port: no pack. */
export const NO_PACK = '-';

const PREAMBLE =
  /^bulkhead-egress\/1 pack=([a-z][a-z0-9-]{1,30}|-)(?: link=(00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}))?\n$/;
/** The longest preamble line, newline included: the gateway reads no further looking for it. */
export const MAX_PREAMBLE_BYTES = 128;

/** What the bridge says of a connection: the pack whose port it came to, and maybe a trace link. */
export interface Preamble {
  /** Undefined for the tenant-wide port. */
  pack: string | undefined;
  /**
   * The `traceparent` of the pack's only call in flight when the connection opened (docs/observability.md,
   * "Egress spans"). Written inside the tenant's container, so a claim only: the gateway uses it as
   * a span link and for nothing else.
   */
  link?: string | undefined;
}

export function formatPreamble(preamble: Preamble): string {
  const link = preamble.link === undefined ? '' : ` link=${preamble.link}`;
  return `bulkhead-egress/1 pack=${preamble.pack ?? NO_PACK}${link}\n`;
}

/** What a preamble line says, or null when it is malformed. */
export function parsePreamble(line: string): Preamble | null {
  const match = PREAMBLE.exec(line);
  if (!match) return null;
  const pack = match[1] === NO_PACK ? undefined : match[1];
  return match[2] === undefined ? { pack } : { pack, link: match[2] };
}
