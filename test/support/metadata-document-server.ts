// A Client ID Metadata Document served the way a client vendor serves one: over https, at a URL that
// is the client_id. Here on loopback with a certificate made for the test by openssl; the dev IdP is
// told to trust it for this origin only (its `localMetadataOrigins`).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const METADATA_PATH = '/oauth/client-metadata.json';

export interface MetadataDocumentServer {
  origin: string;
  /** The client_id: the document's own URL. */
  clientId: string;
  /** PEM certificate of the server, for the IdP's `localMetadataOrigins`. */
  certificate: string;
  /** How many times the document was fetched (the IdP caches it). */
  readonly fetches: number;
  close(): Promise<void>;
}

export async function startMetadataDocumentServer(
  metadata: Record<string, unknown>,
): Promise<MetadataDocumentServer> {
  const { key, cert } = await selfSignedLoopbackCertificate();
  let fetches = 0;
  let clientId = '';
  const server = createServer({ key, cert }, (req, res) => {
    if (req.method !== 'GET' || req.url !== METADATA_PATH) return void res.writeHead(404).end();
    fetches += 1;
    res
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' })
      .end(JSON.stringify({ ...metadata, client_id: clientId }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  clientId = `${origin}${METADATA_PATH}`;
  return {
    origin,
    clientId,
    certificate: cert,
    get fetches() {
      return fetches;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function selfSignedLoopbackCertificate(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bulkhead-cimd-'));
  try {
    const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ]);
    return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
