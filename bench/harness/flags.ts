/** Command-line flag values shared by every benchmark: one-line errors that name the flag. */

/** A numeric flag's value, or `fallback` when absent; a one-line error naming the flag when out of range. */
export function numberFlag(flag: string, v: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER, integer = true): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new Error(`--${flag} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

/** A comma-separated flag's items (blanks dropped), or undefined when absent. */
export function listFlag(v: string | undefined): string[] | undefined {
  return v?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** One of `allowed`, or `fallback` when absent; a one-line error naming the flag otherwise. */
export function choiceFlag<T extends string>(flag: string, v: string | undefined, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new Error(`--${flag}: unknown value ${JSON.stringify(v)} (${allowed.join(', ')})`);
  return v as T;
}
