import { CloseCode, ErrorCode } from '../protocol/index.js';

/** MQTT 5.0 reason codes used by relaymesh (spec §2.4), named once. */
export enum Reason {
  SUCCESS = 0x00,
  GRANTED_QOS_1 = 0x01,
  DISCONNECT_WITH_WILL = 0x04,
  NO_SUBSCRIPTION_EXISTED = 0x11,
  UNSPECIFIED_ERROR = 0x80,
  MALFORMED_PACKET = 0x81,
  PROTOCOL_ERROR = 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR = 0x83,
  UNSUPPORTED_PROTOCOL_VERSION = 0x84,
  CLIENT_IDENTIFIER_NOT_VALID = 0x85,
  BAD_USERNAME_OR_PASSWORD = 0x86,
  NOT_AUTHORIZED = 0x87,
  SERVER_BUSY = 0x89,
  SERVER_SHUTTING_DOWN = 0x8b,
  KEEP_ALIVE_TIMEOUT = 0x8d,
  SESSION_TAKEN_OVER = 0x8e,
  TOPIC_FILTER_INVALID = 0x8f,
  TOPIC_NAME_INVALID = 0x90,
  RECEIVE_MAXIMUM_EXCEEDED = 0x93,
  TOPIC_ALIAS_INVALID = 0x94,
  PACKET_TOO_LARGE = 0x95,
  MESSAGE_RATE_TOO_HIGH = 0x96,
  QUOTA_EXCEEDED = 0x97,
  ADMINISTRATIVE_ACTION = 0x98,
  QOS_NOT_SUPPORTED = 0x9b,
  CONNECTION_RATE_EXCEEDED = 0x9f,
}

/** The 3.1.1 SUBACK code of a refused filter. */
export const SUBACK_FAILURE_V4 = 0x80;

/** MQTT 3.1.1 CONNACK return codes (spec §3.2.2.3). */
export enum ConnackV4 {
  ACCEPTED = 0,
  UNACCEPTABLE_PROTOCOL_VERSION = 1,
  IDENTIFIER_REJECTED = 2,
  SERVER_UNAVAILABLE = 3,
  BAD_USERNAME_OR_PASSWORD = 4,
  NOT_AUTHORIZED = 5,
}

/** The 3.1.1 CONNACK code for a 5.0 refusal reason. */
export function connackV4(reason: Reason): ConnackV4 {
  switch (reason) {
    case Reason.SUCCESS:
      return ConnackV4.ACCEPTED;
    case Reason.UNSUPPORTED_PROTOCOL_VERSION:
      return ConnackV4.UNACCEPTABLE_PROTOCOL_VERSION;
    case Reason.CLIENT_IDENTIFIER_NOT_VALID:
      return ConnackV4.IDENTIFIER_REJECTED;
    case Reason.BAD_USERNAME_OR_PASSWORD:
      return ConnackV4.BAD_USERNAME_OR_PASSWORD;
    case Reason.NOT_AUTHORIZED:
      return ConnackV4.NOT_AUTHORIZED;
    default:
      return ConnackV4.SERVER_UNAVAILABLE;
  }
}

/** The DISCONNECT reason (5.0) for a broker-side close of a device connection. */
export function disconnectReason(code: CloseCode): Reason {
  switch (code) {
    case CloseCode.NORMAL:
      return Reason.SUCCESS;
    case CloseCode.SHUTTING_DOWN:
      return Reason.SERVER_SHUTTING_DOWN;
    case CloseCode.HEARTBEAT_TIMEOUT:
      return Reason.KEEP_ALIVE_TIMEOUT;
    case CloseCode.SLOW_CONSUMER:
    case CloseCode.TOO_MANY_CONNECTIONS:
      return Reason.QUOTA_EXCEEDED;
    case CloseCode.KICKED:
      return Reason.ADMINISTRATIVE_ACTION;
    case CloseCode.SESSION_TAKEN_OVER:
      return Reason.SESSION_TAKEN_OVER;
    case CloseCode.PROTOCOL_VIOLATION:
      return Reason.PROTOCOL_ERROR;
    case CloseCode.UNAUTHORIZED:
    case CloseCode.TOKEN_EXPIRED:
      return Reason.NOT_AUTHORIZED;
    case CloseCode.ABUSE:
      return Reason.MESSAGE_RATE_TOO_HIGH;
    default:
      return Reason.UNSPECIFIED_ERROR;
  }
}

/** The PUBACK / SUBACK reason (5.0) for an ERROR the broker answered a request with. */
export function refusalReason(code: number, of: 'publish' | 'subscribe'): Reason {
  switch (code) {
    case ErrorCode.UNAUTHORIZED:
    case ErrorCode.FORBIDDEN:
      return Reason.NOT_AUTHORIZED;
    case ErrorCode.INVALID_TOPIC:
    case ErrorCode.INVALID_FIELD:
      return of === 'publish' ? Reason.TOPIC_NAME_INVALID : Reason.TOPIC_FILTER_INVALID;
    case ErrorCode.TOO_MANY_SUBSCRIPTIONS:
    case ErrorCode.INBOX_FULL:
    case ErrorCode.RATE_LIMITED:
      return Reason.QUOTA_EXCEEDED;
    default:
      return Reason.UNSPECIFIED_ERROR;
  }
}
