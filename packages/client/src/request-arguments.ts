import { ErrorCode, MAX_LIST_LENGTH, topicFilterProblem, topicNameProblem } from '../../../src/protocol/index.js';
import { RelaymeshError } from './errors.js';

/**
 * Checks what the application passes in with the broker's own rules, so a bad topic fails
 * at the call with a clear message instead of as an ERROR frame a round trip later.
 */

export function checkFilters(filters: string | readonly string[]): string[] {
  const list = typeof filters === 'string' ? [filters] : [...filters];
  if (list.length === 0 || list.length > MAX_LIST_LENGTH) {
    throw new RelaymeshError(ErrorCode.INVALID_FIELD, `give between 1 and ${MAX_LIST_LENGTH} filters, got ${list.length}`);
  }
  for (const filter of list) {
    const problem = topicFilterProblem(filter);
    if (problem) throw new RelaymeshError(ErrorCode.INVALID_TOPIC, `bad filter ${JSON.stringify(filter)}: ${problem}`);
  }
  return list;
}

export function checkTopic(topic: string): void {
  const problem = topicNameProblem(topic);
  if (problem) throw new RelaymeshError(ErrorCode.INVALID_TOPIC, `cannot publish to ${JSON.stringify(topic)}: ${problem}`);
}

export function checkTarget(deviceId: string): string {
  if (typeof deviceId !== 'string' || deviceId.length === 0) {
    throw new RelaymeshError(ErrorCode.INVALID_FIELD, 'send needs a non-empty target device id');
  }
  return deviceId;
}

export function toBytes(payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
}
