// A certificate authority of the test's own, made by openssl in a directory the test owns: a server
// certificate for `localhost` and 127.0.0.1 (a private Redis's TLS port, a collector's HTTPS) and a
// client certificate (mutual TLS), both signed by the CA, each valid for a day. PEM files.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  /** The CA's certificate: what a client trusts. */
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
}

export function makeTestPki(dir: string): TestPki {
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  const signed = (name: string, subject: string, extensions: string): void => {
    openssl('req', ...ec, '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`), '-subj', subject);
    writeFileSync(path(`${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.crt'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-out',
      path(`${name}.crt`),
      '-days',
      '1',
      '-extfile',
      path(`${name}.ext`),
    );
  };
  signed('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  signed('client', '/CN=bulkhead-supervisor', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: path('ca.crt'),
    cert: path('server.crt'),
    key: path('server.key'),
    clientCert: path('client.crt'),
    clientKey: path('client.key'),
  };
}
