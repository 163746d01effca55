// AES-256-GCM with additional data: the one sealing of the values Bulkhead keeps in the shared Redis
// (tenants' secret values, kernel/secrets/secret-store.ts; the router's idempotency records,
// router/pipeline/record-sealing.ts). The additional data names the value's place (its tenant,
// name or key), so a sealed value moved to another place does not open. Each store keeps its own
// keys; this is only the cipher and its layout.
import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** `text` sealed under `key` for `place`: a fresh random IV, the ciphertext, the tag, in that order. */
export function sealText(key: KeyObject | Buffer, place: string, text: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(place, 'utf8'));
  return Buffer.concat([iv, cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
}

/**
 * The text `sealed` holds, if it was sealed under `key` for `place` and not changed since; throws
 * otherwise (another key or place, a changed or cut byte).
 */
export function openText(key: KeyObject | Buffer, place: string, sealed: Buffer): string {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(place, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const body = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
  return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
}
