// `bulkhead audit export|verify|keygen`: offline, on the sealed segment files (no Redis). Parsing
// and printing only; the work is in tenants/control-plane/audit-segments.ts.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { lstat, rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { atPath } from '../../kernel/errors/path-refusal.ts';
import {
  ensureAuditKeys,
  exportSegments,
  readPublicKey,
  verifySegments,
  type SegmentSource,
} from '../control-plane/audit-segments.ts';
import {
  countProgress,
  parse,
  runSubcommand,
  tenantIdOption,
  UsageError,
  type Command,
} from './command-kit.ts';
import { cliSettings } from './config.ts';

function source(positionals: string[], dir: string | undefined, sub: string): SegmentSource {
  if (dir !== undefined) {
    if (positionals.length > 0) throw new UsageError(`audit ${sub}: give a tenant id or --dir, not both`);
    return { dir };
  }
  const [tenant, ...rest] = positionals;
  if (!tenant || rest.length > 0) throw new UsageError(`audit ${sub} takes one tenant id (or --dir DIR)`);
  return { root: cliSettings().auditDir, tenant: tenantIdOption(tenant) };
}

/**
 * Progress lines on stderr while a long trail is checked or exported, for a person watching (a
 * terminal) only: stdout may carry the records, and a script reads the result, not the progress.
 */
function segmentProgress(verb: string) {
  return process.stderr.isTTY
    ? countProgress({ verb, noun: 'segments', write: (line) => process.stderr.write(line) })
    : undefined;
}

function time(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new UsageError(`${flag}: not a date/time: ${value}`);
  return at;
}

/**
 * `--created-at`: the tenant record's createdAt, as `bulkhead show` prints it. The segments must be
 * of that incarnation of the id, not of an earlier tenant's offboarded and onboarded again under it.
 */
function createdAtOption(value: string | undefined): string | undefined {
  return time(value, '--created-at')?.toISOString();
}

/** Segments sealed before segments named their tenant's creation: nothing ties them to one incarnation. */
function unboundNotice(unbound: number | undefined): string {
  return unbound === undefined
    ? ''
    : `; ${unbound} segments name no tenant creation (sealed before segments did): which tenant of the id they are of is not checked`;
}

async function verify(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    dir: { type: 'string' },
    'created-at': { type: 'string' },
    'public-key': { type: 'string' },
  });
  const from = source(positionals, values.dir, 'verify');
  const createdAt = createdAtOption(values['created-at']);
  const key = await readPublicKey(values['public-key'] ?? cliSettings().auditPublicKeyFile);
  const report = await verifySegments(from, key, { progress: segmentProgress('verified'), createdAt });
  const pruned =
    report.prunedThrough === undefined ? '' : `, segments 1-${report.prunedThrough} pruned by retention`;
  if (!report.ok)
    throw new BulkheadError('audit_verification_failed', `${report.dir}: BROKEN: ${report.problem ?? ''}`);
  const range =
    report.segments === 0 ? 'no segments' : `segments ${report.firstSegment}-${report.lastSegment}`;
  const shipped =
    report.shippedThrough === undefined
      ? report.shippedProblem === undefined
        ? ''
        : `; ${report.shippedProblem}: the supervisor neither ships nor prunes by it`
      : `; shipped to the SIEM through segment ${report.shippedThrough}`;
  const offboarded =
    report.offboardedAt === undefined ? '' : `; offboarded ${report.offboardedAt}, the trail ends there`;
  // A directory given as is may hold another tenant's trail than its name says: name the one it holds.
  const tenant = report.tenant === undefined ? '' : `; tenant ${report.tenant}`;
  const created = report.createdAt === undefined ? '' : ` created ${report.createdAt}`;
  console.log(
    `${report.dir}: intact: ${range}, ${report.entries} entries${pruned}; last seq ${report.lastSeq ?? 0}, head ${report.head}, last segment digest ${report.lastDigest}${shipped}${offboarded}${tenant}${created}${unboundNotice(report.unbound)}`,
  );
}

/**
 * --out names a regular file or a new path: the rename at the end replaces whatever is there, so a
 * device (as root, `--out /dev/null` became a file of records), a FIFO or a symbolic link would be
 * replaced rather than written to, and a directory refused only once the export was done.
 */
async function refuseSpecialOut(out: string): Promise<void> {
  const found = await lstat(out).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new BulkheadError('invalid_input', `--out ${out}: cannot write there (${error.code})`);
  });
  if (found === undefined || found.isFile()) return;
  const kind = found.isDirectory()
    ? 'a directory'
    : found.isSymbolicLink()
      ? 'a symbolic link'
      : 'not a regular file';
  throw new BulkheadError(
    'invalid_input',
    `--out ${out}: ${kind}, which the export would replace: name a regular file or a new path, or leave out --out and redirect stdout`,
  );
}

async function exportRecords(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    dir: { type: 'string' },
    'created-at': { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    format: { type: 'string', default: 'jsonl' },
    out: { type: 'string' },
    'public-key': { type: 'string' },
  });
  if (values.format !== 'jsonl') throw new UsageError(`--format ${values.format}: only jsonl is supported`);
  const from = source(positionals, values.dir, 'export');
  const createdAt = createdAtOption(values['created-at']);
  const range = { from: time(values.from, '--from'), to: time(values.to, '--to') };
  const key = await readPublicKey(values['public-key'] ?? cliSettings().auditPublicKeyFile);
  if (values.out !== undefined) await refuseSpecialOut(values.out);
  // --out FILE appears only once the export is whole: written beside it, renamed over it at the end.
  const partial = values.out === undefined ? undefined : `${values.out}.partial-${process.pid}`;
  const out = partial === undefined ? process.stdout : createWriteStream(partial, { mode: 0o600 });
  if (partial !== undefined)
    await once(out, 'open').catch((error: NodeJS.ErrnoException) => {
      throw new BulkheadError('invalid_input', `--out ${values.out}: cannot write there (${error.code})`);
    });
  try {
    const { records, check } = await exportSegments(from, key, {
      ...range,
      createdAt,
      out,
      verifying: segmentProgress('verified'),
      exporting: segmentProgress('exported'),
    });
    if (partial !== undefined) {
      out.end();
      await finished(out);
      await rename(partial, values.out!);
    }
    // Stdout carries the records when there is no --out: the count goes to stderr either way, and
    // with --created-at, the segments it could not hold to it.
    const to = values.out === undefined ? '' : ` to ${values.out}`;
    const unbound = createdAt === undefined ? '' : unboundNotice(check.unbound);
    console.error(`exported ${records} records${to}${unbound}`);
  } catch (error) {
    if (partial !== undefined) {
      out.destroy();
      await rm(partial, { force: true });
    }
    throw error;
  }
}

async function keygen(args: string[]): Promise<void> {
  const { values } = parse(args, { out: { type: 'string' } }, { positionals: false });
  const out = values.out;
  if (!out) throw new UsageError('audit keygen needs --out <dir>');
  const keys = await atPath({ option: '--out', path: out, verb: 'write' }, () => ensureAuditKeys(out));
  console.log(
    `${keys.created.length ? `created ${keys.created.join(', ')}` : 'kept existing keys'} in ${out}: ` +
      `supervisor BULKHEAD_AUDIT_SIGNING_KEY_FILE=${keys.signingKeyFile}, routers BULKHEAD_AUDIT_SECRET_FILE=${keys.secretFile}, auditors BULKHEAD_AUDIT_PUBLIC_KEY_FILE=${keys.publicKeyFile}`,
  );
}

const SUBCOMMANDS: Record<string, Command> = {
  verify: {
    summary:
      "check a trail's sealed segments offline: each one's digest, signature and tenant, their order, the entry chain",
    usage: 'bulkhead audit verify <tenant-id> | --dir DIR  [--created-at ISO-TIME] [--public-key FILE]',
    run: verify,
  },
  export: {
    summary: "write a trail's records as SIEM JSON lines (stdout or --out FILE), its segments verified first",
    usage:
      'bulkhead audit export <tenant-id> | --dir DIR  [--created-at ISO-TIME] [--from ISO-TIME] [--to ISO-TIME] [--format jsonl] [--out FILE] [--public-key FILE]',
    run: exportRecords,
  },
  keygen: {
    summary:
      'create the audit keys if missing: signing key (supervisor), public key (auditors), secret (routers)',
    usage: 'bulkhead audit keygen --out DIR',
    run: keygen,
  },
};

export const audit: Command = {
  subcommands: SUBCOMMANDS,
  summary: 'verify or export the sealed audit segments offline (SIEM JSON lines); create the audit keys',
  usage: Object.values(SUBCOMMANDS)
    .map((sub) => sub.usage)
    .join('\n       '),
  run: runSubcommand('audit', SUBCOMMANDS),
};
