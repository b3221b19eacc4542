import { FrameKind } from './frames.js';

/**
 * Wire layout of every frame: a msgpack array `[kind, seq, ...fields]` with the
 * fields in the order listed here. Optional fields may be nil or missing at the end.
 * Adding a frame kind means adding its layout here and registering a handler.
 */
export type FieldType = 'uint' | 'int' | 'str' | 'bin' | 'bool' | 'qos' | 'uintList' | 'strList' | 'positions' | 'props';

export interface FieldSpec {
  name: string;
  type: FieldType;
  optional?: true;
}

const req = (name: string, type: FieldType): FieldSpec => ({ name, type });
const opt = (name: string, type: FieldType): FieldSpec => ({ name, type, optional: true });

export const FRAME_LAYOUTS: ReadonlyMap<FrameKind, readonly FieldSpec[]> = new Map<FrameKind, FieldSpec[]>([
  [FrameKind.HELLO, [req('versions', 'uintList'), req('deviceId', 'str'), opt('token', 'str'), opt('resume', 'positions')]],
  [
    FrameKind.WELCOME,
    [
      req('version', 'uint'),
      req('sessionId', 'str'),
      req('heartbeatMs', 'uint'),
      req('maxFrameBytes', 'uint'),
      req('maxInflight', 'uint'),
      req('sessionPresent', 'bool'),
    ],
  ],
  [FrameKind.PING, [opt('ts', 'uint')]],
  [FrameKind.PONG, [opt('ts', 'uint')]],
  [FrameKind.SUB, [req('filters', 'strList'), opt('qos', 'qos')]],
  [FrameKind.UNSUB, [req('filters', 'strList')]],
  [FrameKind.PUB, [req('topic', 'str'), req('payload', 'bin'), opt('qos', 'qos'), opt('traceId', 'str'), opt('props', 'props'), opt('retain', 'bool')]],
  [FrameKind.SEND, [req('target', 'str'), req('payload', 'bin'), opt('qos', 'qos'), opt('traceId', 'str'), opt('props', 'props')]],
  [
    FrameKind.MSG,
    [
      req('stream', 'str'),
      req('offset', 'uint'),
      req('payload', 'bin'),
      req('traceId', 'str'),
      req('qos', 'qos'),
      opt('from', 'str'),
      opt('epoch', 'str'),
      opt('delivery', 'uint'),
      opt('hops', 'strList'),
      opt('props', 'props'),
      opt('retain', 'bool'),
    ],
  ],
  [FrameKind.ACK, [req('stream', 'str'), req('offset', 'uint')]],
  [FrameKind.ERROR, [req('code', 'uint'), req('message', 'str'), opt('ref', 'uint')]],
  [FrameKind.OK, [req('ref', 'uint'), opt('offset', 'uint')]],
  [FrameKind.RESET, [req('stream', 'str'), req('epoch', 'str'), req('offset', 'uint'), req('reason', 'str')]],
  [FrameKind.RESYNC, [req('stream', 'str'), req('offset', 'uint')]],
  [FrameKind.AUTH, [req('token', 'str')]],
]);
