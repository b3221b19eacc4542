/**
 * Properties a message carries from its publisher to every receiver, unchanged (MQTT 5's
 * publication properties, open to SDK clients too). On PUB/SEND `expirySeconds` is the lifetime
 * the publisher gave; on MSG it is what remains of it when the frame was encoded.
 */
export interface MessageProperties {
  /** Seconds the message stays deliverable (MQTT 5 message expiry interval). */
  expirySeconds?: number;
  /** MIME type of the payload. */
  contentType?: string;
  /** Topic the receiver should answer on (request/response). */
  responseTopic?: string;
  /** Bytes the requester uses to match a response to its request. */
  correlationData?: Uint8Array;
  /** 1: the payload is UTF-8 text; 0 (or absent): unspecified bytes. */
  payloadFormat?: 0 | 1;
  /** Name/value pairs, in order; a name may repeat. */
  userProperties?: [name: string, value: string][];
}

/** Most user properties one message may carry. */
export const MAX_USER_PROPERTIES = 256;
/** Longest expiry a message may ask for (MQTT's four-byte interval). */
export const MAX_EXPIRY_SECONDS = 0xffffffff;

/**
 * The properties in `value` when it is a valid properties map, else undefined. Unknown keys are
 * dropped (a newer peer may add some); an empty map counts as no properties.
 */
export function checkMessageProperties(value: unknown): MessageProperties | undefined | 'invalid' {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return 'invalid';
  const v = value as Record<string, unknown>;
  const props: MessageProperties = {};
  if (v.expirySeconds != null) {
    const e = v.expirySeconds;
    if (typeof e !== 'number' || !Number.isSafeInteger(e) || e < 0 || e > MAX_EXPIRY_SECONDS) return 'invalid';
    props.expirySeconds = e;
  }
  if (v.contentType != null) {
    if (typeof v.contentType !== 'string') return 'invalid';
    props.contentType = v.contentType;
  }
  if (v.responseTopic != null) {
    if (typeof v.responseTopic !== 'string') return 'invalid';
    props.responseTopic = v.responseTopic;
  }
  if (v.correlationData != null) {
    if (!(v.correlationData instanceof Uint8Array)) return 'invalid';
    props.correlationData = v.correlationData;
  }
  if (v.payloadFormat != null) {
    if (v.payloadFormat !== 0 && v.payloadFormat !== 1) return 'invalid';
    props.payloadFormat = v.payloadFormat;
  }
  if (v.userProperties != null) {
    const list = v.userProperties;
    if (!Array.isArray(list) || list.length > MAX_USER_PROPERTIES) return 'invalid';
    if (!list.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) return 'invalid';
    props.userProperties = list as [string, string][];
  }
  return Object.keys(props).length === 0 ? undefined : props;
}

/**
 * What remains of a message's lifetime `now` (ms) when it was published at `publishedAt`:
 * the properties to deliver it with, or 'expired'. Properties without an expiry come back as they are.
 */
export function remainingLifetime(props: MessageProperties | undefined, publishedAt: number, now: number): MessageProperties | undefined | 'expired' {
  if (props?.expirySeconds === undefined) return props;
  const remaining = props.expirySeconds - Math.floor((now - publishedAt) / 1000);
  if (remaining <= 0) return 'expired';
  return remaining === props.expirySeconds ? props : { ...props, expirySeconds: remaining };
}
