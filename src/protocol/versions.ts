/** Protocol versions this build speaks, newest last. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];

/** Picks the highest version both sides speak, or undefined when there is none. */
export function negotiateVersion(offered: readonly number[], supported: readonly number[] = SUPPORTED_VERSIONS): number | undefined {
  let best: number | undefined;
  for (const v of offered) if (supported.includes(v) && (best === undefined || v > best)) best = v;
  return best;
}
