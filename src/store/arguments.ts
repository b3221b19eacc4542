/**
 * Argument checks shared by store backends: bad input fails at the call with a clear
 * message instead of landing in the data file.
 */

/**
 * Longest stream, subscriber or device id, in key bytes. LMDB keys are limited to 1,978 bytes
 * and the longest key holds two names ([subscriberId, stream]).
 */
export const MAX_NAME_BYTES = 960;

export function checkName(what: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${what} must be a non-empty string`);
  // A UTF-16 unit costs at most 3 key bytes, so short names need no counting.
  if (value.length > MAX_NAME_BYTES / 3 && keyBytes(value) > MAX_NAME_BYTES) {
    throw new RangeError(`${what} is longer than ${MAX_NAME_BYTES} bytes`);
  }
}

/** Bytes a string takes in an ordered-binary key: UTF-8, with U+0000–U+0004 escaped to two bytes. */
function keyBytes(value: string): number {
  let escaped = 0;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) <= 4) escaped++;
  return Buffer.byteLength(value) + escaped + 1;
}

/** Offsets, counts and limits: whole numbers >= 0. */
export function checkCount(what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a whole number >= 0, got ${String(value)}`);
  }
}

/** Times and durations in milliseconds: any number but NaN and -Infinity. */
export function checkTime(what: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || Number.isNaN(value) || value === -Infinity) {
    throw new RangeError(`${what} must be a time in milliseconds, got ${String(value)}`);
  }
}

export function checkNewEntry(entry: unknown): void {
  const e = entry as { payload?: unknown; traceId?: unknown; from?: unknown; hops?: unknown; props?: unknown; qos?: unknown; retain?: unknown } | null;
  if (typeof e !== 'object' || e === null) throw new TypeError('entry must be an object');
  if (!(e.payload instanceof Uint8Array)) throw new TypeError('entry.payload must be a Uint8Array');
  if (typeof e.traceId !== 'string') throw new TypeError('entry.traceId must be a string');
  if (e.from !== undefined && typeof e.from !== 'string') throw new TypeError('entry.from must be a string when present');
  if (e.hops !== undefined && !(Array.isArray(e.hops) && e.hops.every((h) => typeof h === 'string'))) {
    throw new TypeError('entry.hops must be an array of strings when present');
  }
  if (e.props !== undefined && (typeof e.props !== 'object' || e.props === null)) throw new TypeError('entry.props must be an object when present');
  if (e.qos !== undefined && e.qos !== 0 && e.qos !== 1) throw new TypeError('entry.qos must be 0 or 1 when present');
  if (e.retain !== undefined && typeof e.retain !== 'boolean') throw new TypeError('entry.retain must be a boolean when present');
}

export function checkSessionRecord(record: unknown): void {
  const r = record as { subscriptions?: unknown; shared?: unknown; expiresAt?: unknown; updatedAt?: unknown } | null;
  if (typeof r !== 'object' || r === null) throw new TypeError('session record must be an object');
  if (!Array.isArray(r.subscriptions) || !r.subscriptions.every(isSubscription)) {
    throw new TypeError('session subscriptions must be [filter, qos, flags?] with qos 0 or 1 and flags { noLocal?: true, retainAsPublished?: true, subscriptionId?: 1 to 268435455 }');
  }
  if (r.shared !== undefined && !(Array.isArray(r.shared) && r.shared.every(isSharedSubscription))) {
    throw new TypeError('session shared subscriptions must be [group, filter, qos, flags?] with qos 0 or 1 and flags as for subscriptions');
  }
  checkTime('session expiresAt', r.expiresAt);
  checkTime('session updatedAt', r.updatedAt);
}

function isSharedSubscription(value: unknown): boolean {
  return Array.isArray(value) && (value.length === 3 || value.length === 4) && typeof value[0] === 'string' && isSubscription(value.slice(1));
}

function isSubscription(value: unknown): boolean {
  return Array.isArray(value) && (isFilterAndQos(value) || (value.length === 3 && isFilterAndQos(value.slice(0, 2)) && isSubscriptionFlags(value[2])));
}

function isFilterAndQos(value: unknown[]): boolean {
  return value.length === 2 && typeof value[0] === 'string' && (value[1] === 0 || value[1] === 1);
}

/** Largest Subscription Identifier MQTT 5 allows (a four-byte variable byte integer). */
const MAX_SUBSCRIPTION_ID = 268_435_455;

function isSubscriptionFlags(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { noLocal, retainAsPublished, subscriptionId, ...rest } = value as { noLocal?: unknown; retainAsPublished?: unknown; subscriptionId?: unknown };
  return (
    Object.keys(rest).length === 0 &&
    (noLocal === undefined || noLocal === true) &&
    (retainAsPublished === undefined || retainAsPublished === true) &&
    (subscriptionId === undefined || (Number.isSafeInteger(subscriptionId) && (subscriptionId as number) >= 1 && (subscriptionId as number) <= MAX_SUBSCRIPTION_ID))
  );
}
