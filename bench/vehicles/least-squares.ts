/**
 * Least squares with non-negative coefficients, for a handful of columns (the capacity model fits
 * three): every subset of columns is solved unconstrained and the feasible one with the smallest
 * squared error wins. 2^k small solves, exact, no iteration to bound.
 */

/** Coefficients x ≥ 0 minimising Σ (row·x − y)²; undefined when no subset of columns can be solved. */
export function nonNegativeLeastSquares(rows: number[][], y: number[]): number[] | undefined {
  const k = rows[0]?.length ?? 0;
  if (k === 0 || rows.length !== y.length) return undefined;
  let best: { x: number[]; sse: number } | undefined;
  for (let mask = 1; mask < 1 << k; mask++) {
    const cols = [...Array(k).keys()].filter((j) => mask & (1 << j));
    const part = leastSquares(rows.map((r) => cols.map((j) => r[j]!)), y);
    if (!part || part.some((v) => v < 0)) continue;
    const x = new Array<number>(k).fill(0);
    cols.forEach((j, i) => (x[j] = part[i]!));
    const sse = squaredError(rows, y, x);
    if (!best || sse < best.sse) best = { x, sse };
  }
  return best?.x;
}

export function squaredError(rows: number[][], y: number[], x: number[]): number {
  return rows.reduce((sum, r, i) => sum + (dot(r, x) - y[i]!) ** 2, 0);
}

/**
 * Unconstrained least squares through the normal equations, columns scaled to unit length first
 * (vehicles and messages per second differ by orders of magnitude from the constant column).
 * Undefined when the columns are (nearly) dependent or there are fewer rows than columns.
 */
export function leastSquares(rows: number[][], y: number[]): number[] | undefined {
  const k = rows[0]?.length ?? 0;
  if (k === 0 || rows.length < k) return undefined;
  const scale = [...Array(k).keys()].map((j) => Math.hypot(...rows.map((r) => r[j]!)));
  if (scale.some((s) => !(s > 0))) return undefined;
  const a = rows.map((r) => r.map((v, j) => v / scale[j]!));
  const normal = [...Array(k).keys()].map((i) => [...Array(k).keys()].map((j) => a.reduce((s, r) => s + r[i]! * r[j]!, 0)));
  const rhs = [...Array(k).keys()].map((i) => a.reduce((s, r, n) => s + r[i]! * y[n]!, 0));
  const solved = solve(normal, rhs);
  return solved?.map((v, j) => v / scale[j]!);
}

/** Gaussian elimination with partial pivoting; undefined for a (nearly) singular matrix. */
function solve(m: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  const aug = m.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(aug[r]![col]!) > Math.abs(aug[pivot]![col]!)) pivot = r;
    // Unit-length columns: a pivot this small means the columns are dependent in the data.
    if (Math.abs(aug[pivot]![col]!) < 1e-10) return undefined;
    [aug[col], aug[pivot]] = [aug[pivot]!, aug[col]!];
    const top = aug[col]!;
    for (const row of aug) {
      if (row === top) continue;
      const f = row[col]! / top[col]!;
      for (let c = col; c <= n; c++) row[c] = row[c]! - f * top[c]!;
    }
  }
  return aug.map((row, i) => row[n]! / row[i]!);
}

function dot(a: number[], b: number[]): number {
  return a.reduce((s, v, i) => s + v * b[i]!, 0);
}
