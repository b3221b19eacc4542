/**
 * The sequence numbers one subscriber connection has received in the current run, as a
 * bitset: a number seen before is a duplicate (a redelivery, or a server sending twice), so
 * that a subscriber counts each message once and loss = expected − received stays exact,
 * whatever order the messages come in.
 */
export class SeenSequences {
  private runId = -1;
  private bits = new Uint8Array(16);

  /** Records `seq` of run `runId`; false if this connection already had it in this run. */
  firstTime(runId: number, seq: number): boolean {
    if (runId !== this.runId) {
      this.runId = runId;
      this.bits.fill(0);
    }
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (this.bits[byte]! & mask) return false;
    this.bits[byte] = this.bits[byte]! | mask;
    return true;
  }
}
