// Which of the things the in-container probe saw are another tenant's, decided here, on the host.
// The probe is given no tenant's name: the tenant's own processes run as its UID beside it and can
// read its environment and command line, so a name passed in would tell the tenant who else the
// installation serves. It gets only the roots the others' places are under, which name no tenant.
import { dirname, join } from 'node:path';
import { PROBE_MAX_MOUNTINFO_CHARS, PROBE_MAX_ROOT_ENTRIES } from './probe-script.ts';

/** Where the engine keeps each volume's data, at `<root>/<volume>/_data`. */
export const DOCKER_VOLUMES_ROOT = '/var/lib/docker/volumes';

/** Another tenant's volume and socket directory (host paths), as the supervisor places them. */
export interface OtherPlace {
  volume: string;
  socketDir: string;
  /** The loop device its disk is attached to: the mount table names it, not the volume. */
  device?: string;
}

/** One root as the probe found it: absent (or not a directory), not listable, or listed. */
export interface ProbedRoot {
  root: string;
  /** Why it could not be reached: nothing under it can be either. */
  absent?: string;
  /** Reached but not listable: a name under it could still be opened. */
  unlisted?: string;
  /** Its first entries, sorted (at most PROBE_MAX_ROOT_ENTRIES). */
  entries?: string[];
  truncated?: boolean;
  /** Of `<entry>` and `<entry>/_data`, relative to the root: those the probe could list. */
  readable?: string[];
}

export interface ProbedPlaces {
  /** The probe's /proc/self/mountinfo, cut at PROBE_MAX_MOUNTINFO_CHARS. */
  mountinfo: string;
  mountinfoTruncated: boolean;
  roots: ProbedRoot[];
}

export interface OthersSeen {
  /** Other tenants whose volume or socket directory is in the mount table or a listing. */
  visible: OtherPlace[];
  /** Host paths of other tenants' volumes or socket directories the probe could list. */
  readable: string[];
  /** Why the probe's view is not whole, so that another tenant's place cannot be ruled out. */
  unsure: string[];
}

/** The roots the probe lists, from the tenant's own socket directory: neither names a tenant. */
export function probeRoots(ownSocketDir: string): string[] {
  return [DOCKER_VOLUMES_ROOT, dirname(ownSocketDir)];
}

/**
 * Whether a path field of the mount table names `name` as a whole path component (or the whole
 * path): tenant "acme-2"'s own `/run/ns/acme-2` does not name tenant "acme"'s `/run/ns/acme`.
 */
function mentions(mountinfo: string, name: string): boolean {
  return mountinfo
    .split(/\s/)
    .some((f) => f === name || f.startsWith(`${name}/`) || f.endsWith(`/${name}`) || f.includes(`/${name}/`));
}

export function othersSeen(seen: ProbedPlaces, others: readonly OtherPlace[]): OthersSeen {
  const pathsOf = (o: OtherPlace) => [join(DOCKER_VOLUMES_ROOT, o.volume), o.socketDir];
  const listed = new Set(seen.roots.flatMap((r) => (r.entries ?? []).map((e) => join(r.root, e))));
  const opened = seen.roots.flatMap((r) => (r.readable ?? []).map((p) => join(r.root, p)));
  const under = (path: string, place: string) => path === place || path.startsWith(`${place}/`);
  return {
    visible: others.filter(
      (o) =>
        mentions(seen.mountinfo, o.volume) ||
        mentions(seen.mountinfo, o.socketDir) ||
        (o.device !== undefined && mentions(seen.mountinfo, o.device)) ||
        pathsOf(o).some((p) => listed.has(p)),
    ),
    readable: opened.filter((path) => others.some((o) => pathsOf(o).some((p) => under(path, p)))),
    unsure: [
      ...(seen.mountinfoTruncated
        ? [`its mount table is longer than ${PROBE_MAX_MOUNTINFO_CHARS} characters`]
        : []),
      ...seen.roots.flatMap((r) =>
        r.unlisted !== undefined
          ? [`${r.root} is there but cannot be listed (${r.unlisted})`]
          : r.truncated
            ? [`${r.root} holds more than ${PROBE_MAX_ROOT_ENTRIES} entries`]
            : [],
      ),
    ],
  };
}
