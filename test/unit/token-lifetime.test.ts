// `bulkhead up` names the development IdP's token lifetime as the IdP reads it from the environment
// both inherit: before, it printed "5 minutes" whatever BULKHEAD_ACCESS_TOKEN_TTL_SECONDS said.
import { describe, expect, it } from 'vitest';
import { tokenLifetimeText } from '../../dev/cli/token-lifetime.ts';

describe("the development IdP's token lifetime as `up` prints it", () => {
  it("is the IdP's default when the environment sets none", () => {
    expect(tokenLifetimeText({})).toBe('5 minutes');
  });

  it('follows BULKHEAD_ACCESS_TOKEN_TTL_SECONDS', () => {
    expect(tokenLifetimeText({ BULKHEAD_ACCESS_TOKEN_TTL_SECONDS: '3600' })).toBe('60 minutes');
    expect(tokenLifetimeText({ BULKHEAD_ACCESS_TOKEN_TTL_SECONDS: '60' })).toBe('1 minute');
    expect(tokenLifetimeText({ BULKHEAD_ACCESS_TOKEN_TTL_SECONDS: '90' })).toBe('90 seconds');
  });
});
