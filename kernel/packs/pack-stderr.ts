// A pack's stderr as a host keeps it. A pack's author may be hostile and its stderr is a stream
// without end, so a host keeps a fixed amount whatever the pack writes: every line cut at the same
// length (the runtime's log of a pack's stderr and the approval sandbox's failure message alike),
// and only the last lines, the ones that say why the pack stopped.

/** The characters kept of one line a pack writes to stderr. */
export const PACK_STDERR_LINE_LIMIT = 2048;

/** A string with characters of its own (V8 may let a slice share its parent's). */
const copy = (text: string): string => (text ? Buffer.from(text, 'utf8').toString('utf8') : text);

/**
 * The last `maxLines` non-blank lines written to it, each cut at `maxLineChars`, and how many lines
 * came in all. Holds at most `maxLines + 1` lines of `maxLineChars` (the +1: the line still being
 * written), however much is written and however it is split into chunks.
 */
export class StderrTail {
  private readonly maxLines: number;
  private readonly maxLineChars: number;
  private readonly kept: string[] = [];
  private partial = '';
  private counted = 0;

  constructor(maxLines: number, maxLineChars = PACK_STDERR_LINE_LIMIT) {
    this.maxLines = maxLines;
    this.maxLineChars = maxLineChars;
  }

  write(chunk: string): void {
    const before = this.counted;
    let start = 0;
    for (let at = chunk.indexOf('\n'); at !== -1; at = chunk.indexOf('\n', start)) {
      this.extend(chunk, start, at);
      this.endLine();
      start = at + 1;
    }
    this.extend(chunk, start, chunk.length);
    // A slice of a string may keep the whole string alive (V8 shares the characters): what is kept
    // from this chunk is copied, so the chunk itself is not held.
    const fresh = Math.min(this.counted - before, this.kept.length);
    for (let i = this.kept.length - fresh; i < this.kept.length; i += 1) this.kept[i] = copy(this.kept[i]!);
    this.partial = copy(this.partial);
  }

  /** Every non-blank line written, the unfinished one included. */
  get lines(): number {
    return this.counted + (this.partial.trim() ? 1 : 0);
  }

  /** The lines kept, oldest first, the unfinished one last. */
  get tail(): string[] {
    const tail = this.partial.trim() ? [...this.kept, this.partial] : [...this.kept];
    return tail.slice(-this.maxLines);
  }

  // Only the line's first characters are copied: the rest of a long line is never held.
  private extend(chunk: string, from: number, to: number): void {
    const room = this.maxLineChars - this.partial.length;
    if (room > 0 && to > from) this.partial += chunk.slice(from, Math.min(to, from + room));
  }

  private endLine(): void {
    const line = this.partial;
    this.partial = '';
    if (!line.trim()) return;
    this.counted += 1;
    this.kept.push(line);
    if (this.kept.length > this.maxLines) this.kept.shift();
  }
}
