// The wire between the in-container egress bridge (runtime-image/src/egress-bridge.ts) and the egress
// gateway (egress/): the bridge listens on a unix socket in the tenant's socket directory and the
// gateway dials in (docs/security.md, "Egress"), keeping a few idle connections there. When a client
// inside the container opens a proxy connection, the bridge takes one idle connection, writes one
// preamble line naming the pack whose port the client used, and then relays bytes both ways; the
// gateway reads an HTTP proxy request (CONNECT or absolute-form) after the line.

/** The bridge's socket, next to the runtime's own in the tenant's socket directory. */
export const EGRESS_SOCKET_NAME = 'egress.sock';

/** The loopback port of the tenant-wide proxy inside the container; packs get the ports after it. */
export const DEFAULT_EGRESS_PORT = 3128;

/** Written for a client of the tenant-wide port: no pack. */
export const NO_PACK = '-';

const PREAMBLE = /^bulkhead-egress\/1 pack=([a-z][a-z0-9-]{1,30}|-)\n$/;
/** The longest preamble line, newline included: the gateway reads no further looking for it. */
export const MAX_PREAMBLE_BYTES = 64;

export function formatPreamble(pack: string | undefined): string {
  return `bulkhead-egress/1 pack=${pack ?? NO_PACK}\n`;
}

/** The pack a preamble line names (undefined for the tenant-wide port), or null when it is malformed. */
export function parsePreamble(line: string): string | undefined | null {
  const match = PREAMBLE.exec(line);
  if (!match) return null;
  return match[1] === NO_PACK ? undefined : match[1];
}
