// A tenant's composed image holds the files its operator approved, even when the pack's tag moves
// while it is built: an engine on which `bulkhead pack build` of the same version retags
// bulkhead/pack-notes:1.0.0 after TenantImages checked the tag and before its build reads it. The
// build copies from the approved image by its id. Before, it copied from the tag, so the unapproved
// rebuild went into an image tagged by the approved ids' hash, reused from then on.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { expect, it } from 'vitest';
import { TenantImages } from '../../supervisor/docker/tenant-images.ts';
import { notesApproval } from '../support/pack-approval.ts';
import { tenantRecord } from '../support/tenant.ts';

const APPROVED = 'sha256:notes-approved';
const REBUILT = 'sha256:notes-rebuilt';

/** The engine: its tags, and the pack images each tenant image build copied files from. */
function retaggingEngine(copied: string[]): Docker {
  const tags = new Map([
    ['bulkhead/pack-notes:1.0.0', APPROVED],
    ['bulkhead/runtime:test', 'sha256:runtime'],
  ]);
  const resolve = (name: string) => tags.get(name) ?? (name.startsWith('sha256:') ? name : undefined);
  return {
    getImage: (name: string) => ({
      inspect: () => {
        const id = resolve(name);
        return id ? Promise.resolve({ Id: id }) : Promise.reject(new Error(`no such image: ${name}`));
      },
    }),
    buildImage: async (context: { context: string }) => {
      // The operator's rebuild of the same version lands just before this build starts.
      tags.set('bulkhead/pack-notes:1.0.0', REBUILT);
      const dockerfile = await readFile(join(context.context, 'Dockerfile'), 'utf8');
      for (const [, from] of dockerfile.matchAll(/^COPY --from=(\S+) /gm)) copied.push(resolve(from!)!);
      return {};
    },
    modem: { followProgress: (_stream: unknown, done: (error: null, output: []) => void) => done(null, []) },
  } as unknown as Docker;
}

it("copies a pack's files from the approved image, not from whatever its tag names during the build", async () => {
  const copied: string[] = [];
  const approval = notesApproval({ name: 'notes_add', inputSchema: { type: 'object' } });
  const images = new TenantImages({
    docker: retaggingEngine(copied),
    runtimeImage: 'bulkhead/runtime:test',
    approvals: {
      require: () =>
        Promise.resolve({ ...approval, image: { ref: 'bulkhead/pack-notes:1.0.0', id: APPROVED } }),
    },
  });
  await images.prepare(
    tenantRecord('acme', { packs: [{ name: 'notes', version: '1.0.0', agentsAlone: false }] }),
  );
  expect(copied).toEqual([APPROVED]);
});
