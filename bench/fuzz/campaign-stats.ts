/** What the campaign counts, shared by every connection of the pool. */
import { ErrorCode, FrameKind } from '../../src/protocol/index.js';
import type { Category } from './frame-mix.js';

/** A frame sequence worth a look: what a connection sent just before something went wrong. */
export interface Suspect {
  what: string;
  at: string;
  connection: number;
  detail: string;
  /** The last frames the connection sent, oldest first, in hex (text messages prefixed "text:"). */
  lastFramesHex: string[];
}

const MAX_SUSPECTS = 20;

export class CampaignStats {
  framesSent = 0;
  bytesSent = 0;
  readonly sentByCategory: Partial<Record<Category, number>> = {};
  /** HELLOs and sentinel PINGs: control traffic, not counted in framesSent. */
  controlFramesSent = 0;
  readonly receivedByKind: Record<string, number> = {};
  readonly errorsByCode: Record<string, number> = {};
  readonly closesByCode: Record<string, number> = {};
  connectionsOpened = 0;
  /** Connections whose first frame was fuzz instead of a HELLO. */
  handshakeProbes = 0;
  openFailures = 0;
  undecodableReplies = 0;
  /** Sentinel windows whose MALFORMED_FRAME/TOO_LARGE answers did not match the oracle's count. */
  oracleMismatches = 0;
  /** Sentinel PINGs (or HELLOs) left unanswered on an open socket for longer than the stall limit. */
  stalls = 0;
  readonly suspects: Suspect[] = [];

  countSent(category: Category, bytes: number): void {
    this.framesSent++;
    this.bytesSent += bytes;
    this.sentByCategory[category] = (this.sentByCategory[category] ?? 0) + 1;
  }

  countReceived(kind: FrameKind): void {
    const name = FrameKind[kind] ?? String(kind);
    this.receivedByKind[name] = (this.receivedByKind[name] ?? 0) + 1;
  }

  countError(code: number): void {
    const name = `${code} ${ErrorCode[code] ?? '?'}`;
    this.errorsByCode[name] = (this.errorsByCode[name] ?? 0) + 1;
  }

  countClose(code: number): void {
    this.closesByCode[code] = (this.closesByCode[code] ?? 0) + 1;
  }

  get errorFrames(): number {
    return this.receivedByKind.ERROR ?? 0;
  }

  get internalErrors(): number {
    return this.errorsByCode[`${ErrorCode.INTERNAL} INTERNAL`] ?? 0;
  }

  get closes(): number {
    return Object.values(this.closesByCode).reduce((a, b) => a + b, 0);
  }

  suspect(s: Suspect): void {
    if (this.suspects.length < MAX_SUSPECTS) this.suspects.push(s);
  }
}
