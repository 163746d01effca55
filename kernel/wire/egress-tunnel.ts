// The wire between the in-container egress bridge (runtime-image/src/egress-bridge.ts) and the egress
// gateway (egress/): the bridge listens on a unix socket in the tenant's socket directory and the
// gateway dials in (docs/egress.md), keeping a few idle connections there. When a client
// inside the container opens a proxy connection, the bridge takes one idle connection, writes one
// preamble line naming the pack whose port the client used (and maybe a trace link), and then
// relays bytes both ways; the gateway reads an HTTP proxy request (CONNECT or absolute-form) after
// the line. Before any of this, each connection the gateway dials must prove it is the gateway's
// (the handshake below).
import type { Socket } from 'node:net';

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

// The gateway's proof (docs/egress.md): the bridge's socket is reachable by every
// process of the tenant's UID, a pack included, so a connection to it is not the gateway's until it
// proves it. On every connection the bridge first sends a challenge line with a fresh random nonce;
// the gateway answers with one line, its Ed25519 signature over the nonce and the tenant it dialed
// for. The bridge verifies it with the gateway's public key (delivered by the supervisor like the
// router's) and its own tenant; a connection that fails is closed and never carries a client. A
// recorded answer is worthless: the next connection's nonce differs, and another tenant's bridge
// checks another tenant name.

/** Version of the handshake; a runtime and a gateway on different versions refuse each other. */
export const HANDSHAKE_VERSION = 'bulkhead-egress/2';
export const NONCE_BYTES = 32;
/** The longest handshake line, newline included (the proof: 24 + 86 + 1 bytes). */
export const MAX_HANDSHAKE_BYTES = 128;

const CHALLENGE = /^bulkhead-egress\/2 challenge=([A-Za-z0-9_-]{43})\n$/;
const PROOF = /^bulkhead-egress\/2 proof=([A-Za-z0-9_-]{86})\n$/;

export function formatChallenge(nonce: Buffer): string {
  return `${HANDSHAKE_VERSION} challenge=${nonce.toString('base64url')}\n`;
}

/** The nonce of a challenge line, or null when the line is none (an older bridge's preamble, say). */
export function parseChallenge(line: string): Buffer | null {
  const match = CHALLENGE.exec(line);
  return match ? Buffer.from(match[1]!, 'base64url') : null;
}

export function formatProof(signature: Buffer): string {
  return `${HANDSHAKE_VERSION} proof=${signature.toString('base64url')}\n`;
}

export function parseProof(line: string): Buffer | null {
  const match = PROOF.exec(line);
  return match ? Buffer.from(match[1]!, 'base64url') : null;
}

/** What the gateway signs: a fixed context (this key signs nothing else), the tenant, the nonce. */
export function proofMessage(tenant: string, nonce: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${HANDSHAKE_VERSION} gateway-proof\0${tenant}\0`), nonce]);
}

/**
 * One line (newline included) from `socket`, read at most `maxBytes` far; null when none comes in
 * time, the socket closes first, or the line is longer. The socket is left paused, with whatever
 * followed the line put back.
 */
export function readLine(
  socket: Socket,
  options: { maxBytes: number; timeoutMs: number },
): Promise<string | null> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const finish = (line: string | null, rest?: Buffer): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(line);
    };
    const onClose = (): void => finish(null);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const newline = buffered.indexOf(0x0a);
      if (newline < 0 || newline >= options.maxBytes) {
        if (newline >= 0 || buffered.length >= options.maxBytes) finish(null);
        return;
      }
      finish(buffered.subarray(0, newline + 1).toString('latin1'), buffered.subarray(newline + 1));
    };
    const timer = setTimeout(() => finish(null), options.timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}
