// The router's call-assertion key pair (Ed25519): the router signs with the private key, the
// supervisor hands the public key to each tenant container, which refuses unsigned calls.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface CallKeyFiles {
  privateKeyFile: string;
  publicKeyFile: string;
}

export function callKeyFiles(dir: string): CallKeyFiles {
  return { privateKeyFile: join(dir, 'call-assertion.key'), publicKeyFile: join(dir, 'call-assertion.pub') };
}

/** Creates the key pair in `dir` unless it is already there; returns the file paths. */
export async function ensureCallKeys(dir: string): Promise<CallKeyFiles & { created: boolean }> {
  const files = callKeyFiles(dir);
  if (existsSync(files.privateKeyFile) && existsSync(files.publicKeyFile))
    return { ...files, created: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeEd25519Pair(files);
  return { ...files, created: true };
}

/** A new Ed25519 pair: the private key PKCS#8 PEM (0600), the public key SPKI PEM (0644). */
export async function writeEd25519Pair(files: CallKeyFiles): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(files.privateKeyFile, privateKey, { mode: 0o600 });
  await chmod(files.privateKeyFile, 0o600);
  await writeFile(files.publicKeyFile, publicKey, { mode: 0o644 });
}
