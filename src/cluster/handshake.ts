import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from '../logger.js';
import { closeReason } from '../protocol/close-reason.js';
import { PeerLink, type PeerLinkTiming } from './peer-link.js';
import { CLUSTER_PROTOCOL_VERSION, Kind, LinkClose, decodeFrame, encodeFrame, type Frame } from './wire.js';

/**
 * Mutual authentication of a new peer link with the shared cluster secret, as an HMAC
 * challenge-response over fresh nonces from both sides (so a recorded handshake cannot be
 * replayed):
 *
 *   dialer → HELLO(version, dialerId, expectedAcceptorId, nonceD)
 *   acceptor → CHALLENGE(acceptorId, nonceA)
 *   dialer → PROOF(hmac(secret, "dialer", ids, nonces))        acceptor checks: wrong → close 4401, logged
 *   acceptor → WELCOME(hmac(secret, "acceptor", ids, nonces))  dialer checks: wrong → close 4401, logged
 *
 * The acceptor checks first and reveals its own proof only to a dialer that proved itself.
 * Until both checks pass, any other frame closes the socket: no unauthenticated peer can
 * advertise links or inject traffic.
 */
export interface HandshakeContext {
  self: string;
  secret: string;
  timeoutMs: number;
  log: Logger;
  remote: string;
  timing: (peerId: string) => PeerLinkTiming;
  /** A socket event handler threw: logged and counted by the owner; the socket is closed. */
  fault: (err: unknown, remote: string) => void;
}

export type Role = 'dialer' | 'acceptor';

export function proofOf(secret: string, role: Role, dialerId: string, acceptorId: string, dialerNonce: string, acceptorNonce: string): string {
  return createHmac('sha256', secret)
    .update(['relaymesh-cluster/1', role, dialerId, acceptorId, dialerNonce, acceptorNonce].join('\n'))
    .digest('base64url');
}

function proofMatches(expected: string, received: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(received);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Runs the dialer's side on an open socket; resolves with the authenticated link. */
export function handshakeAsDialer(ws: WebSocket, expect: string, ctx: HandshakeContext): Promise<PeerLink> {
  const nonce = randomBytes(24).toString('base64url');
  let acceptorNonce = '';
  send(ws, { kind: Kind.HELLO, version: CLUSTER_PROTOCOL_VERSION, nodeId: ctx.self, expect, nonce });
  return run(ws, ctx, (frame, done) => {
    if (frame.kind === Kind.CHALLENGE && !acceptorNonce) {
      if (frame.nodeId !== expect) return done.fail(LinkClose.WRONG_NODE, `dialled ${expect} but ${frame.nodeId} answered`);
      acceptorNonce = frame.nonce;
      send(ws, { kind: Kind.PROOF, proof: proofOf(ctx.secret, 'dialer', ctx.self, expect, nonce, acceptorNonce) });
    } else if (frame.kind === Kind.WELCOME && acceptorNonce) {
      if (!proofMatches(proofOf(ctx.secret, 'acceptor', ctx.self, expect, nonce, acceptorNonce), frame.proof)) {
        ctx.log.warn({ peer: expect, remote: ctx.remote }, 'cluster peer rejected: it does not know the cluster secret');
        return done.fail(LinkClose.BAD_SECRET, 'bad cluster secret');
      }
      done.ok(expect, ctx.self);
    } else {
      done.fail(LinkClose.PROTOCOL, `unexpected frame kind ${frame.kind} in the handshake`);
    }
  });
}

/** Runs the acceptor's side on a freshly accepted socket. */
export function handshakeAsAcceptor(ws: WebSocket, ctx: HandshakeContext): Promise<PeerLink> {
  const nonce = randomBytes(24).toString('base64url');
  let dialerId = '';
  let dialerNonce = '';
  return run(ws, ctx, (frame, done) => {
    if (frame.kind === Kind.HELLO && !dialerId) {
      if (frame.version !== CLUSTER_PROTOCOL_VERSION) return done.fail(LinkClose.PROTOCOL, `cluster protocol ${frame.version} not supported`);
      if (frame.expect !== ctx.self || frame.nodeId === ctx.self) return done.fail(LinkClose.WRONG_NODE, `this is ${ctx.self}, not ${frame.expect}`);
      dialerId = frame.nodeId;
      dialerNonce = frame.nonce;
      send(ws, { kind: Kind.CHALLENGE, nodeId: ctx.self, nonce });
    } else if (frame.kind === Kind.PROOF && dialerId) {
      if (!proofMatches(proofOf(ctx.secret, 'dialer', dialerId, ctx.self, dialerNonce, nonce), frame.proof)) {
        ctx.log.warn({ peer: dialerId, remote: ctx.remote }, 'cluster peer rejected: it does not know the cluster secret');
        return done.fail(LinkClose.BAD_SECRET, 'bad cluster secret');
      }
      send(ws, { kind: Kind.WELCOME, proof: proofOf(ctx.secret, 'acceptor', dialerId, ctx.self, dialerNonce, nonce) });
      done.ok(dialerId, dialerId);
    } else {
      done.fail(LinkClose.PROTOCOL, `unexpected frame kind ${frame.kind} in the handshake`);
    }
  });
}

interface Outcome {
  ok(peerId: string, dialerId: string): void;
  fail(code: number, reason: string): void;
}

/** Feeds handshake frames to `step` until it settles, with a deadline; hands the socket to a PeerLink. */
function run(ws: WebSocket, ctx: HandshakeContext, step: (frame: Frame, done: Outcome) => void): Promise<PeerLink> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (): void => {
      settled = true;
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
    };
    const done: Outcome = {
      ok(peerId, dialerId) {
        finish();
        // Synchronously, inside this message event: the link's listener sees the very next frame.
        resolve(new PeerLink(ws, { peerId, dialerId, remote: ctx.remote }, ctx.timing(peerId), ctx.fault));
      },
      fail(code, reason) {
        if (settled) return;
        finish();
        ctx.log.debug({ remote: ctx.remote, code, reason }, 'cluster link handshake failed');
        ws.close(code, closeReason(reason));
        reject(new Error(`cluster handshake with ${ctx.remote} failed: ${reason}`));
      },
    };
    const onMessage = (data: RawData): void => {
      if (settled) return;
      try {
        const frame = decodeFrame(data as Buffer);
        if (typeof frame === 'string') return done.fail(LinkClose.PROTOCOL, frame);
        step(frame, done);
      } catch (err) {
        // Nothing a peer sends may reach the process as an exception.
        ctx.fault(err, ctx.remote);
        if (!settled) {
          finish();
          ws.terminate();
          reject(new Error(`cluster handshake with ${ctx.remote} failed: internal error`));
        }
      }
    };
    const onClose = (code: number, reason: Buffer): void => {
      if (settled) return;
      finish();
      if (code === LinkClose.BAD_SECRET) ctx.log.warn({ remote: ctx.remote }, 'cluster peer refused this node: the cluster secrets differ');
      reject(new Error(`cluster link to ${ctx.remote} closed during the handshake (${code} ${reason.toString()})`));
    };
    const timer = setTimeout(() => {
      if (settled) return;
      finish();
      ws.terminate();
      reject(new Error(`cluster handshake with ${ctx.remote} timed out`));
    }, ctx.timeoutMs);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', () => undefined);
  });
}

function send(ws: WebSocket, frame: Frame): void {
  ws.send(encodeFrame(frame), { binary: true });
}
