// How deeply a JSON text nests, read from the text before it is parsed. JSON.parse itself takes any
// depth, but much of what a message then goes through walks its value recursively (the SDK's
// schemas, the argument validation, the audit record's canonical JSON and digest, JSON.stringify
// when it is sent on), and a few thousand levels (a few KB of text) exhaust the stack there. A
// request body nested deeper than any tool's arguments need is refused at parse
// (router/mcp/mcp-endpoint.ts), and so is a runtime's answer (router/dispatch/runtime-request.ts).

/**
 * Deeper than this, a request body is refused as a parse error and a runtime's answer as malformed (a
 * call's arguments and a tool's results are far shallower).
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether `text` opens more than `limit` arrays or objects inside one another (strings skipped).
 * A string is skipped with `indexOf` to its closing quote: a runtime's answer is mostly text (a
 * page of records), which a loop over every character read three times slower than JSON.parse.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i + 1);
      if (i < 0) return false;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** The index of the quote that ends the string starting at `from`; -1 when none does. */
function closingQuote(text: string, from: number): number {
  for (let at = text.indexOf('"', from); at >= 0; at = text.indexOf('"', at + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return at;
  }
  return -1;
}
