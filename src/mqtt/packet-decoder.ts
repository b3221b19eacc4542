import mqttPacket, { type Packet, type Parser } from 'mqtt-packet';

export type DecodeResult = { ok: true; packet: Packet } | { ok: false; message: string };

/** CONNECT's packet type (high nibble of the fixed header). */
const CONNECT = 1;

/** An mqtt-packet parser fed one whole packet at a time, with the slots its events fill. */
class PacketParser {
  private readonly parser: Parser;
  private packet: Packet | undefined;
  private error: string | undefined;

  /** Without a version: for a CONNECT, which carries its own. */
  constructor(protocolVersion?: 4 | 5) {
    this.parser = mqttPacket.parser(protocolVersion === undefined ? undefined : { protocolVersion });
    this.parser.on('packet', (packet: Packet) => (this.packet = packet));
    this.parser.on('error', (err: Error) => (this.error ??= err.message));
  }

  parse(bytes: Buffer): DecodeResult {
    let leftover = -1;
    try {
      leftover = this.parser.parse(bytes);
    } catch (err) {
      // Thrown instead of emitted: as malformed, and this parser is replaced all the same.
      this.error ??= err instanceof Error ? err.message : String(err);
    }
    const { packet, error } = this;
    this.packet = undefined;
    this.error = undefined;
    if (error !== undefined) return { ok: false, message: error };
    // The framer and the parser read the same length: anything else is a malformed packet.
    if (packet === undefined || leftover !== 0) return { ok: false, message: 'packet length does not match its content' };
    return { ok: true, packet };
  }
}

/**
 * One parser per protocol version for every connection. A parser is a stream with buffers,
 * listeners and state (some 2 KB); it is synchronous and, given exactly one whole packet (see
 * PacketFramer), back at its start state after it, so no client's bytes meet another's.
 */
const shared = { 4: new PacketParser(4), 5: new PacketParser(5) };

/**
 * Decodes one whole MQTT packet of a client speaking `protocolVersion`. A CONNECT (the first
 * packet, or a forbidden later one) gets a parser of its own: parsing one makes a parser adopt
 * that packet's protocol version for what follows (a 3.1.1 bridge flag only adds subscription
 * options the channel reads the same way). A parser that met an error is replaced.
 */
export function decodePacket(bytes: Buffer, protocolVersion: 4 | 5): DecodeResult {
  if (bytes[0]! >> 4 === CONNECT) return new PacketParser().parse(bytes);
  const result = shared[protocolVersion].parse(bytes);
  if (!result.ok) shared[protocolVersion] = new PacketParser(protocolVersion);
  return result;
}
