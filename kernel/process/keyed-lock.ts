// One-at-a-time per key, other keys proceeding: a tenant's lifecycle changes
// (supervisor/lifecycle/tenant-gate.ts), its audit sealing and offboarding (supervisor/audit/audit-sealer.ts).
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
