/** RFC 6455 §5.5: a close frame's body is at most 125 bytes, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * A close reason every WebSocket implementation accepts: at most 123 bytes of well-formed UTF-8,
 * cut at a character boundary. `ws` and browsers throw on a longer reason, so every close goes
 * through here; a reason built from peer input can then never become an exception.
 */
export function closeReason(text: string): string {
  // Fast path: 41 UTF-16 units are at most 123 bytes of UTF-8.
  if (text.length <= 41 && !hasSurrogate(text)) return text;
  let bytes = 0;
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > MAX_CLOSE_REASON_BYTES) break;
    bytes += size;
    // A lone surrogate has no UTF-8 encoding: it would be sent as U+FFFD (3 bytes) anyway.
    out += code >= 0xd800 && code <= 0xdfff ? '\uFFFD' : char;
  }
  return out;
}

function hasSurrogate(text: string): boolean {
  return /[\uD800-\uDFFF]/.test(text);
}
