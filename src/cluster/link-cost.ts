/**
 * Cost of one link as this node measures it: the EWMA-smoothed RTT of ping/pong plus a penalty
 * proportional to the smoothed loss rate (pings that timed out). Units are milliseconds, rounded
 * to 0.01 so that every node sees the exact same numbers in the advertisements, and ties stay ties.
 */
export class LinkCost {
  private srtt: number | undefined;
  private loss = 0;

  constructor(
    private readonly alpha: number,
    private readonly lossPenaltyMs: number,
  ) {}

  /** A pong arrived `rttMs` after its ping. */
  sample(rttMs: number): void {
    this.srtt = this.srtt === undefined ? rttMs : this.srtt + this.alpha * (rttMs - this.srtt);
    this.loss *= 1 - this.alpha;
  }

  /** A ping went unanswered past its timeout. */
  lost(): void {
    this.loss += this.alpha * (1 - this.loss);
  }

  /** A link is advertised only once it has a measured RTT: a guessed cost would misroute. */
  get ready(): boolean {
    return this.srtt !== undefined;
  }

  get rttMs(): number | undefined {
    return this.srtt;
  }

  get lossRate(): number {
    return this.loss;
  }

  get value(): number {
    return roundCost((this.srtt ?? 0) + this.loss * this.lossPenaltyMs);
  }
}

/** Costs are positive (Dijkstra needs non-negative; 0 would make distant nodes look adjacent). */
export function roundCost(ms: number): number {
  return Math.max(0.01, Math.round(ms * 100) / 100);
}

/** Whether a cost moved enough since it was advertised to re-flood now rather than at the next refresh. */
export function costChangedMuch(advertised: number, current: number): boolean {
  return Math.abs(current - advertised) > Math.max(1, advertised * 0.25);
}
