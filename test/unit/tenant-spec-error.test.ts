// A tenant the manifest refuses (an unknown tool, a version it does not carry, a role or a per-tool
// quota naming no tool): the error's message and its `details` name each field in one form, the one
// an operator types (`tools[0].name`, `roles[""]`), so a reader of either finds the same field.
import { describe, expect, it } from 'vitest';
import { assertAgainstManifest, TenantSpecError } from '../../kernel/tenant/tenant-config.ts';

function refusal(record: Parameters<typeof assertAgainstManifest>[0]): TenantSpecError {
  try {
    assertAgainstManifest(record);
  } catch (error) {
    expect(error).toBeInstanceOf(TenantSpecError);
    return error as TenantSpecError;
  }
  return expect.fail('expected a refusal');
}

describe('TenantSpecError', () => {
  it('names each field in its details as its message does', () => {
    const error = refusal({
      id: 'acme',
      tools: [{ name: 'nope', version: '1.0.0', agentsAlone: false }],
      roles: { '': ['nope'], 'Bad Role': ['nope'] },
      quotas: { callsPerMinute: 60, callsPerDay: 1000, tools: { 'shell.exec': 5 } },
    });
    const details = [
      { path: 'tools[0].name', message: 'unknown tool "nope"' },
      { path: 'roles[""]', message: 'unknown tool "nope"' },
      { path: 'roles["Bad Role"]', message: 'unknown tool "nope"' },
      {
        path: 'quotas.tools["shell.exec"]',
        message: 'unknown tool "shell.exec" (a per-tool quota names a tool)',
      },
    ];
    expect(error.details).toEqual(details);
    expect(error.message).toBe(`tenant "acme": ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`);
  });
});
