import { CloseCode } from '../protocol/index.js';
import type { SocketConnection } from '../transport/index.js';

export interface LivenessLimits {
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
}

export interface ConnectionLiveness {
  handshaking: boolean;
  /** When the device's credentials (token) expire, if they do. */
  credentialsExpireAt?: number;
}

/**
 * Closes connections whose token expired, that went silent (no frame, including PING, within the idle timeout)
 * or never finished their handshake. One timer sweeps all sockets: O(connections) per
 * sweep, no timer per socket.
 */
export function startLivenessSweep<Slot>(
  connections: ReadonlySet<SocketConnection<Slot>>,
  livenessOf: (conn: SocketConnection<Slot>) => ConnectionLiveness,
  limits: LivenessLimits,
): () => void {
  const everyMs = Math.max(50, Math.min(1000, Math.floor(Math.min(limits.idleTimeoutMs, limits.handshakeTimeoutMs) / 4)));
  const timer = setInterval(() => {
    const now = Date.now();
    for (const conn of connections) {
      const liveness = livenessOf(conn);
      if (liveness.handshaking) {
        if (now - conn.openedAt > limits.handshakeTimeoutMs) conn.close(CloseCode.HANDSHAKE_TIMEOUT, 'no HELLO in time');
      } else if (liveness.credentialsExpireAt !== undefined && now >= liveness.credentialsExpireAt) {
        conn.close(CloseCode.TOKEN_EXPIRED, 'token expired: reconnect with a fresh token');
      } else if (now - conn.lastSeenAt > limits.idleTimeoutMs) {
        conn.close(CloseCode.HEARTBEAT_TIMEOUT, 'no heartbeat');
      }
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
