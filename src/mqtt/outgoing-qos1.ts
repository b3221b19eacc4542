/**
 * QoS 1 deliveries to one MQTT connection: packet ids mapped to stream offsets. MQTT acks
 * one packet at a time, relaymesh cursors are cumulative, so a stream's cursor moves only
 * over the acknowledged prefix of what was sent on it.
 */
export class OutgoingQos1 {
  /** A stored message's position, or what to do at the PUBACK of a copy no cursor of this client follows. */
  private readonly byPacketId = new Map<number, { stream: string; offset: number } | { acked: () => void }>();
  private readonly packetIdOf = new Map<string, number>();
  /** Per stream: offsets sent and not yet folded into the cursor, in send order. */
  private readonly unacked = new Map<string, { offset: number; acked: boolean }[]>();
  private nextPacketId = 1;

  /**
   * The packet id for a delivery of `offset` on `stream`: its earlier id when this is a
   * redelivery on the same connection, else a free one.
   */
  packetIdFor(stream: string, offset: number): { packetId: number; resent: boolean } {
    const key = `${offset}\u0000${stream}`;
    const known = this.packetIdOf.get(key);
    if (known !== undefined) return { packetId: known, resent: true };
    const packetId = this.freePacketId({ stream, offset });
    this.packetIdOf.set(key, packetId);
    let list = this.unacked.get(stream);
    if (!list) this.unacked.set(stream, (list = []));
    list.push({ offset, acked: false });
    return { packetId, resent: false };
  }

  /**
   * A packet id for a QoS 1 message no cursor of this client follows (a retained message, a
   * shared subscription's): its PUBACK frees the id and calls `acked`.
   */
  packetIdForUnstored(acked: () => void): number {
    return this.freePacketId({ acked });
  }

  /** A PUBACK: returns the cursor to store when the stream's acknowledged prefix grew. */
  acknowledge(packetId: number): { stream: string; offset: number } | undefined {
    const delivery = this.byPacketId.get(packetId);
    if (!delivery) return undefined;
    this.byPacketId.delete(packetId);
    if ('acked' in delivery) {
      delivery.acked();
      return undefined;
    }
    this.packetIdOf.delete(`${delivery.offset}\u0000${delivery.stream}`);
    const list = this.unacked.get(delivery.stream)!;
    const item = list.find((d) => d.offset === delivery.offset);
    if (item) item.acked = true;
    let through: number | undefined;
    while (list.length > 0 && list[0]!.acked) through = list.shift()!.offset;
    if (list.length === 0) this.unacked.delete(delivery.stream);
    return through === undefined ? undefined : { stream: delivery.stream, offset: through };
  }

  private freePacketId(delivery: { stream: string; offset: number } | { acked: () => void }): number {
    let packetId = this.nextPacketId;
    // The outbox window (at most 65,535) keeps a free id within one lap.
    while (this.byPacketId.has(packetId)) packetId = (packetId % 0xffff) + 1;
    this.nextPacketId = (packetId % 0xffff) + 1;
    this.byPacketId.set(packetId, delivery);
    return packetId;
  }

  /** The stream was reset (history lost): forget its deliveries, their acks can no longer matter. */
  forgetStream(stream: string): void {
    for (const { offset } of this.unacked.get(stream) ?? []) {
      const key = `${offset}\u0000${stream}`;
      this.byPacketId.delete(this.packetIdOf.get(key)!);
      this.packetIdOf.delete(key);
    }
    this.unacked.delete(stream);
  }
}
