import { Buffer } from 'node:buffer';
import { CloseCode } from '../protocol/index.js';
import type { SocketConnection, SocketEvents } from '../transport/index.js';
import type { MqttLink, MqttLinkEvents, MqttReceiver } from './link.js';

/**
 * MQTT over WebSocket on the broker's uWS port: the transport's socket events adapted to
 * MQTT links. MQTT packets may be split over, or packed into, WebSocket messages.
 */
export function mqttOverWebSocket(events: MqttLinkEvents): SocketEvents {
  const receivers = new WeakMap<SocketConnection, MqttReceiver>();
  return {
    onOpen(conn) {
      receivers.set(conn, events.onOpen(new WsLink(conn)));
    },
    onMessage(conn, bytes, isBinary) {
      const receiver = receivers.get(conn);
      if (!isBinary) {
        conn.close(CloseCode.PROTOCOL_VIOLATION, 'MQTT over WebSocket needs binary messages');
        return;
      }
      // uWS reuses its receive buffer after this call: the MQTT parser keeps what it reads.
      receiver?.receive(Buffer.from(bytes));
    },
    onFault() {
      // The transport counts it and closes the socket; onClose follows.
    },
    onClose(conn) {
      receivers.get(conn)?.linkClosed();
      receivers.delete(conn);
    },
  };
}

class WsLink implements MqttLink {
  constructor(private readonly conn: SocketConnection) {}

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }

  get framesDropped(): number {
    return this.conn.framesDropped;
  }

  write(bytes: Uint8Array, droppable: boolean): void {
    this.conn.write(bytes, droppable);
  }

  end(): void {
    this.conn.close(CloseCode.NORMAL, '');
  }
}
