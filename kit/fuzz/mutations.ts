/**
 * Byte-level mutations of an encoded frame. Pure and parameterized (positions wrap around the
 * input) so that fast-check can shrink the parameters and the campaign can drive them from a PRNG.
 * Every mutation returns a new array: the input may be a shared corpus entry. (Copies are made
 * with the Uint8Array constructor: Buffer#slice, unlike Uint8Array#slice, returns a view.)
 */

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/** The first `length` bytes. */
export function truncate(bytes: Uint8Array, length: number): Uint8Array {
  return copy(bytes.subarray(0, Math.max(0, Math.min(length, bytes.length))));
}

/** Flips bit `b % (8 × length)` for each `b` in `bits`. */
export function flipBits(bytes: Uint8Array, bits: readonly number[]): Uint8Array {
  const out = copy(bytes);
  if (out.length === 0) return out;
  for (const b of bits) {
    const bit = b % (out.length * 8);
    out[bit >> 3]! ^= 1 << (bit & 7);
  }
  return out;
}

/** Writes `values` from position `at % length` on, as far as the input reaches. */
export function overwrite(bytes: Uint8Array, at: number, values: Uint8Array): Uint8Array {
  const out = copy(bytes);
  if (out.length === 0) return out;
  const start = at % out.length;
  out.set(values.subarray(0, out.length - start), start);
  return out;
}

/** Inserts `values` before position `at % (length + 1)`. */
export function insertBytes(bytes: Uint8Array, at: number, values: Uint8Array): Uint8Array {
  const start = at % (bytes.length + 1);
  const out = new Uint8Array(bytes.length + values.length);
  out.set(bytes.subarray(0, start), 0);
  out.set(values, start);
  out.set(bytes.subarray(start), start + values.length);
  return out;
}

/** Removes `count` bytes from position `at % length`. */
export function removeBytes(bytes: Uint8Array, at: number, count: number): Uint8Array {
  if (bytes.length === 0) return copy(bytes);
  const start = at % bytes.length;
  const out = new Uint8Array(bytes.length - Math.min(count, bytes.length - start));
  out.set(bytes.subarray(0, start), 0);
  out.set(bytes.subarray(start + count), start);
  return out;
}

/** The head of `a` (up to `cutA`) joined to the tail of `b` (from `cutB`). */
export function splice(a: Uint8Array, b: Uint8Array, cutA: number, cutB: number): Uint8Array {
  const i = cutA % (a.length + 1);
  const j = cutB % (b.length + 1);
  const out = new Uint8Array(i + b.length - j);
  out.set(a.subarray(0, i), 0);
  out.set(b.subarray(j), i);
  return out;
}
