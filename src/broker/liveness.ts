import { CloseCode } from '../protocol/index.js';
import type { SocketConnection } from '../transport/index.js';

export interface LivenessLimits {
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
}

/**
 * Closes connections that went silent (no frame, including PING, within the idle timeout)
 * or never finished their handshake. One timer sweeps all sockets: O(connections) per
 * sweep, no timer per socket.
 */
export function startLivenessSweep(
  connections: ReadonlySet<SocketConnection>,
  isHandshaking: (conn: SocketConnection) => boolean,
  limits: LivenessLimits,
): () => void {
  const everyMs = Math.max(50, Math.min(1000, Math.floor(Math.min(limits.idleTimeoutMs, limits.handshakeTimeoutMs) / 4)));
  const timer = setInterval(() => {
    const now = Date.now();
    for (const conn of connections) {
      if (isHandshaking(conn)) {
        if (now - conn.openedAt > limits.handshakeTimeoutMs) conn.close(CloseCode.HANDSHAKE_TIMEOUT, 'no HELLO in time');
      } else if (now - conn.lastSeenAt > limits.idleTimeoutMs) {
        conn.close(CloseCode.HEARTBEAT_TIMEOUT, 'no heartbeat');
      }
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
