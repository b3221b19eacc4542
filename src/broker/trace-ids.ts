import { randomBytes } from 'node:crypto';

/** Trace ids unique across restarts and nodes: a random boot prefix plus a counter. */
export function traceIdGenerator(): () => string {
  const prefix = randomBytes(6).toString('hex');
  let counter = 0;
  return () => `${prefix}-${(++counter).toString(36)}`;
}
