/** A byte pipe to one MQTT client, over TCP or WebSocket. */
export interface MqttLink {
  readonly remoteAddress: string;
  /** QoS 0 deliveries dropped because the client fell behind. */
  readonly framesDropped: number;
  /** Queues bytes (coalesced per tick); a `droppable` write is dropped when the link is backed up. */
  write(bytes: Uint8Array, droppable: boolean): void;
  /** Sends what is queued, then closes. */
  end(): void;
}

/** What a link reports to the MQTT side. */
export interface MqttReceiver {
  /** `chunk` belongs to the receiver (copied by the listener when the transport reuses its buffer). */
  receive(chunk: Buffer): void;
  linkClosed(): void;
}

export interface MqttLinkEvents {
  onOpen(link: MqttLink): MqttReceiver;
}
