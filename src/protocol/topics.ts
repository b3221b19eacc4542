/**
 * Topic names and MQTT-style filters: levels split by '/', '+' matches one level,
 * '#' (last level only) matches the rest, including nothing.
 */

export const MAX_TOPIC_LENGTH = 512;
/** Streams starting with '$' are reserved for the broker (e.g. `$inbox/<device>`). */
export const INBOX_PREFIX = '$inbox/';

export function inboxStream(deviceId: string): string {
  return INBOX_PREFIX + deviceId;
}

/** Streams holding the retained message of a topic (MQTT): `$retained/<topic>`, the newest entry only. */
export const RETAINED_PREFIX = '$retained/';

/** Why a topic name is invalid for publishing, or undefined when it is valid. */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'topic is empty';
  if (topic.length > MAX_TOPIC_LENGTH) return `topic longer than ${MAX_TOPIC_LENGTH}`;
  if (topic.includes('+') || topic.includes('#')) return 'wildcards are not allowed in a topic name';
  if (topic.startsWith('$')) return "topics starting with '$' are reserved";
  if (topic.includes('\u0000')) return 'topic contains NUL';
  return undefined;
}

/** Why a filter is invalid for subscribing, or undefined when it is valid. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'filter is empty';
  if (filter.length > MAX_TOPIC_LENGTH) return `filter longer than ${MAX_TOPIC_LENGTH}`;
  if (filter.startsWith('$')) return "filters starting with '$' are reserved";
  if (filter.includes('\u0000')) return 'filter contains NUL';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return "'#' must be a whole last level";
    if (level.includes('+') && level !== '+') return "'+' must be a whole level";
  }
  return undefined;
}

/** Whether `topic` matches `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export const MAX_DEVICE_ID_LENGTH = 256;

/** Why a device id is invalid, or undefined when it is valid. */
export function deviceIdProblem(deviceId: string): string | undefined {
  if (deviceId.length === 0 || deviceId.length > MAX_DEVICE_ID_LENGTH) return `device id must be 1–${MAX_DEVICE_ID_LENGTH} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(deviceId)) return 'device id contains control characters';
  return undefined;
}
