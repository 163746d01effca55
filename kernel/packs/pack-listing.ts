// Reading what a pack lists (its tools, resources, resource templates and prompts), one page a
// request, with the bytes kept of all of them bounded: the approval sandbox and the tenant runtime
// read a pack the same way, so the runtime never holds more of a pack's listing than an approval
// could have seen. An SDK client's own list methods, asked for a first page, walk up to 64 pages
// themselves, each up to a message's bound, and hold them all before anything could count them: a
// pack that paginates past the bound only in the tenant's container (the sandbox has no volume, no
// secrets) would grow the runtime, which serves every pack of the tenant and the records tools.
import type { PackListing } from './pack-approval.ts';
import { packRejected } from './pack-manifest.ts';

export type ListMethod = 'tools/list' | 'resources/list' | 'resources/templates/list' | 'prompts/list';

/** The pages a pack may answer one list with: past them it paginates without end. */
export const MAX_LIST_PAGES = 50;

/** The capabilities that decide which lists a pack is asked for (its `initialize` answer's). */
interface ListCapabilities {
  tools?: unknown;
  resources?: unknown;
  prompts?: unknown;
}

/** One page of a list: the result of one request naming `cursor` (none: the first page). */
type Page = (method: ListMethod, cursor: string | undefined) => Promise<Record<string, unknown>>;

const ITEMS: Record<ListMethod, string> = {
  'tools/list': 'tools',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
  'prompts/list': 'prompts',
};

/**
 * Every item of the four lists the capabilities offer, each page asked for alone; refused
 * (`pack_rejected`) once their JSON passes `maxBytes` in all, or a list passes MAX_LIST_PAGES pages.
 */
export async function listPack(options: {
  capabilities: ListCapabilities;
  maxBytes: number;
  page: Page;
}): Promise<PackListing> {
  const { capabilities: caps, maxBytes, page } = options;
  let left = maxBytes;
  const listAll = async (method: ListMethod): Promise<Record<string, unknown>[]> => {
    const items: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < MAX_LIST_PAGES; pages += 1) {
      const result = await page(method, cursor);
      const got = result[ITEMS[method]] as Record<string, unknown>[];
      // Each page is bounded by the message size; what is kept of them all is bounded here.
      left -= Buffer.byteLength(JSON.stringify(got));
      if (left < 0)
        throw packRejected(`the pack lists more than ${maxBytes} bytes (tools, resources and prompts)`);
      items.push(...got);
      const next = result.nextCursor;
      if (typeof next !== 'string' || next === '') return items;
      cursor = next;
    }
    throw packRejected('the pack paginates its lists without end');
  };
  return {
    tools: caps.tools ? await listAll('tools/list') : [],
    resources: caps.resources ? await listAll('resources/list') : [],
    resourceTemplates: caps.resources ? await listAll('resources/templates/list') : [],
    prompts: caps.prompts ? await listAll('prompts/list') : [],
  };
}
