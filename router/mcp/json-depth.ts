// How deeply a JSON text nests, read from the text before it is parsed. JSON.parse itself takes any
// depth, but much of what a call then goes through walks its value recursively (the SDK's schemas,
// the argument validation, the audit record's canonical JSON and digest), and a few thousand levels
// (a body of a few KB) exhaust the stack there: the call then fails as an internal error, and
// leaves no audit record. A body nested deeper than any tool's arguments need is refused at parse.

/** Deeper than this, a request body is refused as a parse error (a call's arguments are far shallower). */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** Whether `text` opens more than `limit` arrays or objects inside one another (strings skipped). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}
