// What the approval sandbox keeps of a pack's listing is bounded as a whole, not only page by page:
// a hostile pack that answers every tools/list with a page just under the message bound and a next
// cursor is refused once its pages pass the bound together, instead of having 50 such pages of each
// list held in the supervisor's memory and returned through Redis as the job's result.
import { PassThrough, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { listInSandbox } from '../../supervisor/docker/pack-images.ts';
import { sandboxEngine } from '../support/sandbox-engine.ts';

const MiB = 1024 * 1024;
const PAGE_TOOLS = 16;
/** One tool's description: a page of 16 is a little over 512 KiB, under the 1 MiB message bound. */
const DESCRIPTION = 'x'.repeat(32 * 1024);

/** An engine whose one container is a pack that answers MCP and lists pages of tools without end. */
function paginatingEngine(asked: { pages: number }): Docker {
  const stdout = new PassThrough();
  const answer = (id: unknown, result: unknown) =>
    stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`);
  let pending = '';
  const stdin = new Writable({
    write(data: Buffer, _encoding, done) {
      pending += data.toString('utf8');
      for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
        const message = JSON.parse(pending.slice(0, at)) as {
          id?: unknown;
          method: string;
          params?: { protocolVersion?: string };
        };
        pending = pending.slice(at + 1);
        if (message.method === 'initialize')
          answer(message.id, {
            protocolVersion: message.params?.protocolVersion,
            capabilities: { tools: {} },
            serverInfo: { name: 'paginating', version: '1.0.0' },
          });
        if (message.method === 'tools/list') {
          const page = asked.pages++;
          const tools = Array.from({ length: PAGE_TOOLS }, (_, i) => ({
            name: `t${page}_${i}`,
            description: DESCRIPTION,
            inputSchema: { type: 'object' },
          }));
          answer(message.id, { tools, nextCursor: String(page + 1) });
        }
      }
      done();
    },
  });
  return sandboxEngine({ id: 'sha256:paginating', stdin, demux: (out) => void stdout.pipe(out) });
}

describe('the approval sandbox listing', () => {
  it('refuses a pack whose pages together pass the bound, asking for no page after that', async () => {
    const asked = { pages: 0 };
    const failure = await listInSandbox(paginatingEngine(asked), {
      ref: 'bulkhead-pack-notes:1.0.0',
      namespace: 'unit',
      timeoutMs: 60_000,
      maxMessageBytes: MiB,
    }).then(
      (listing) => new Error(`listed ${listing.listing.tools.length} tools in ${asked.pages} pages`),
      (error: unknown) => error as Error,
    );
    expect(failure.message).toMatch(
      /^the pack did not answer MCP in the sandbox: the pack lists more than 1048576 bytes/,
    );
    // Two pages of a little over 512 KiB pass 1 MiB: the listing stops there.
    expect(asked.pages).toBe(2);
  });
});
