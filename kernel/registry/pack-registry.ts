// The pack registry: the approvals in force (one per pack version) and the history of every approval
// ever made, in Redis beside the tenant registry. An approval is written with its history entry in
// one MULTI: the record in force and the log never disagree. Re-approving a version replaces the
// record in force (for example after a rebuild); the log keeps both.
import type { Redis } from 'ioredis';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { PackApprovalSchema, type PackApproval } from '../packs/pack-approval.ts';
import type { PackPin } from '../packs/pack-manifest.ts';
import { packApprovalKey, packApprovalsLogKey, packSetKey } from '../redis/keys.ts';

export interface PackHistoryEntry {
  id: string;
  name: string;
  version: string;
  approvedBy: string;
  approvedAt: string;
  /** The image id approved and the digest of each exposed tool, as they were then. */
  image: string;
  tools: { exposed: string; digest: string }[];
}

export class PackRegistry {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(options: { redis: Redis; prefix: string }) {
    this.redis = options.redis;
    this.prefix = options.prefix;
  }

  async approve(approval: PackApproval): Promise<PackApproval> {
    const record = PackApprovalSchema.parse(approval);
    const pin = `${record.name}@${record.version}`;
    const results = await this.redis
      .multi()
      .set(packApprovalKey(this.prefix, record.name, record.version), JSON.stringify(record))
      .sadd(packSetKey(this.prefix), pin)
      .xadd(
        packApprovalsLogKey(this.prefix),
        '*',
        'name',
        record.name,
        'version',
        record.version,
        'approvedBy',
        record.approvedBy,
        'approvedAt',
        record.approvedAt,
        'image',
        record.image.id,
        'tools',
        JSON.stringify(record.tools.map((t) => ({ exposed: t.exposed, digest: t.digest }))),
      )
      .exec();
    const failed = results?.find(([error]) => error !== null);
    if (!results || failed) throw new Error(`approval of ${pin} not written: ${String(failed?.[0])}`);
    return record;
  }

  async get(pin: PackPin): Promise<PackApproval | undefined> {
    const raw = await this.redis.get(packApprovalKey(this.prefix, pin.name, pin.version));
    return raw ? PackApprovalSchema.parse(JSON.parse(raw)) : undefined;
  }

  async require(pin: PackPin): Promise<PackApproval> {
    const approval = await this.get(pin);
    if (!approval)
      throw new BulkheadError(
        'pack_not_approved',
        `pack ${pin.name}@${pin.version} is not approved: run "bulkhead pack approve ${pin.name}@${pin.version}" first`,
      );
    return approval;
  }

  /** Every approval in force, sorted by name@version. */
  async list(): Promise<PackApproval[]> {
    const pins = (await this.redis.smembers(packSetKey(this.prefix))).sort();
    if (pins.length === 0) return [];
    const raws = await this.redis.mget(
      pins.map((pin) => {
        const at = pin.lastIndexOf('@');
        return packApprovalKey(this.prefix, pin.slice(0, at), pin.slice(at + 1));
      }),
    );
    return raws.flatMap((raw) => (raw ? [PackApprovalSchema.parse(JSON.parse(raw))] : []));
  }

  /** Every approval made (of one pack, when named), oldest first. */
  async history(name?: string): Promise<PackHistoryEntry[]> {
    const rows = await this.redis.xrange(packApprovalsLogKey(this.prefix), '-', '+');
    const entries = rows.map(([id, flat]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
      return {
        id,
        name: f.name ?? '',
        version: f.version ?? '',
        approvedBy: f.approvedBy ?? '',
        approvedAt: f.approvedAt ?? '',
        image: f.image ?? '',
        tools: JSON.parse(f.tools ?? '[]') as PackHistoryEntry['tools'],
      };
    });
    return name ? entries.filter((e) => e.name === name) : entries;
  }
}
