// What the runtime adds to a call to the reference pack (and to no operator pack): the caller's
// name, which the records tools store as a record's createdBy. Shared by the runtime and the pack.
export const ACTOR_META_KEY = 'io.bulkhead/actor';
/** The records database, in the pack's working directory (/data/packs/records/). */
export const RECORDS_DB = 'records.db';
