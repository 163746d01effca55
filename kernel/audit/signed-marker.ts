// The signature of a marker the sealer leaves beside a tenant's segments (the pruning marker, the
// offboarding marker): Ed25519 over the segment format, the marker's kind and its canonical JSON
// without the signature, so that one kind's signature never verifies as another's.
import { sign, verify, type KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { canonicalJson } from '../tools/tool-definition.ts';
import { keyId, SEGMENT_FORMAT } from './audit-segment.ts';

interface Signature {
  key_id: string;
  signature: string;
}

function message(kind: string, unsigned: object): Buffer {
  return Buffer.from(`${SEGMENT_FORMAT}\n${kind}\n${canonicalJson(unsigned)}`);
}

export function signMarker<T extends object>(
  kind: string,
  unsigned: T,
  privateKey: KeyObject,
): T & Signature {
  const signature = sign(null, message(kind, unsigned), privateKey).toString('base64');
  return { ...unsigned, key_id: keyId(privateKey), signature };
}

/** The marker (`name` in problems, e.g. "pruning marker") once its signature verifies, else the problem. */
export function verifiedMarker<T extends Signature>(
  kind: string,
  schema: z.ZodType<T>,
  text: string,
  publicKey: KeyObject,
  name: string,
): T | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    return `${name} is not JSON`;
  }
  const marker = schema.safeParse(parsed);
  if (!marker.success) return `${name} malformed`;
  const { key_id, signature, ...unsigned } = marker.data;
  if (key_id !== keyId(publicKey)) return `${name} signed by another key (key id ${key_id})`;
  if (!verify(null, message(kind, unsigned), publicKey, Buffer.from(signature, 'base64')))
    return `${name} signature does not verify (edited)`;
  return marker.data;
}
