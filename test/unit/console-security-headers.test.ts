// The headers on every answer of the console (console/http/http-kit.ts): HSTS only where its
// configured URL is https. Over http (the development stack) a browser ignores the header anyway,
// and it would say nothing true.
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, secure, STRICT_TRANSPORT_SECURITY } from '../../console/http/http-kit.ts';

function headersOf(https: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  secure(
    { setHeader: (name: string, value: string) => (headers[name] = value) } as unknown as ServerResponse,
    https,
  );
  return headers;
}

describe("the console's security headers", () => {
  it('add Strict-Transport-Security for an https console only', () => {
    expect(headersOf(true)).toMatchObject({
      'strict-transport-security': STRICT_TRANSPORT_SECURITY,
      'content-security-policy': CONTENT_SECURITY_POLICY,
    });
    expect(headersOf(false)).not.toHaveProperty('strict-transport-security');
    expect(headersOf(false)).toHaveProperty('content-security-policy', CONTENT_SECURITY_POLICY);
  });
});
