/**
 * Microseconds on CLOCK_MONOTONIC. process.hrtime reads one clock shared by every process on
 * this machine, so a stamp taken in the server process can be subtracted in a subscriber
 * process; performance.timeOrigin is sampled per process and drifts from it by up to a
 * millisecond, which is the size of what we measure.
 */
export function nowUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + ns / 1e3;
}
