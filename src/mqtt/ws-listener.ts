import { Buffer } from 'node:buffer';
import { CloseCode } from '../protocol/index.js';
import type { SocketConnection, SocketEvents } from '../transport/index.js';
import type { MqttLink, MqttLinkEvents, MqttReceiver } from './link.js';

/**
 * MQTT over WebSocket on the broker's uWS port: the transport's socket events adapted to
 * MQTT links. MQTT packets may be split over, or packed into, WebSocket messages.
 */
export function mqttOverWebSocket(events: MqttLinkEvents): SocketEvents<MqttSocketSlot> {
  return {
    newSlot: () => ({ receiver: undefined }),
    onOpen(conn) {
      conn.slot.receiver = events.onOpen(new WsLink(conn));
    },
    onMessage(conn, bytes, isBinary) {
      if (!isBinary) {
        conn.close(CloseCode.PROTOCOL_VIOLATION, 'MQTT over WebSocket needs binary messages');
        return;
      }
      // uWS reuses its receive buffer after this call: the MQTT parser keeps what it reads.
      conn.slot.receiver?.receive(Buffer.from(bytes));
    },
    onFault() {
      // The transport counts it and closes the socket; onClose follows.
    },
    onClose(conn) {
      conn.slot.receiver?.linkClosed();
      conn.slot.receiver = undefined;
    },
  };
}

/** What an MQTT-over-WebSocket socket carries: the MQTT connection reading its bytes. */
export interface MqttSocketSlot {
  receiver: MqttReceiver | undefined;
}

class WsLink implements MqttLink {
  constructor(private readonly conn: SocketConnection<MqttSocketSlot>) {}

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
