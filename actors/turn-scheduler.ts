/** Something that runs once when its phase of the turn comes. */
export interface TurnTask {
  run(): void;
}

/**
 * Batches work per turn of the event loop. Everything that arrived during one turn (frames
 * read by uWS in the poll phase, commits resolved by LMDB) is handled together in the next
 * check phase, in two steps queued back to back as immediates:
 *
 * 1. `handle`: every device mailbox with messages handles all of them (one at a time per
 *    device, in order). Node runs the handlers' promise continuations before step 2.
 * 2. `output`: every fan-out tree sends the turn's broadcasts down to its members, then every
 *    socket that got frames is written once, all its frames under one cork.
 *
 * So K frames to one socket in one turn are one syscall, whatever path produced them. Work
 * queued after its step has run goes to the next turn.
 */
export class TurnScheduler {
  private queued = false;
  private mailboxes: TurnTask[] = [];
  private broadcasts: TurnTask[] = [];
  private flushes: TurnTask[] = [];

  /** A mailbox got its first message since it last ran. */
  handle(mailbox: TurnTask): void {
    this.mailboxes.push(mailbox);
    this.requestTurn();
  }

  /** A fan-out tree got its first broadcast of this turn. */
  broadcast(tree: TurnTask): void {
    this.broadcasts.push(tree);
    this.requestTurn();
  }

  /** A socket got its first frame of this turn. */
  flush(socket: TurnTask): void {
    this.flushes.push(socket);
    this.requestTurn();
  }

  private requestTurn(): void {
    if (this.queued) return;
    this.queued = true;
    setImmediate(this.handleMessages);
    setImmediate(this.writeOutput);
  }

  private readonly handleMessages = (): void => {
    const batch = this.mailboxes;
    this.mailboxes = [];
    for (let i = 0; i < batch.length; i++) batch[i]!.run();
  };

  private readonly writeOutput = (): void => {
    try {
      // Replies the handlers wrote (OK after a commit, ERROR, PONG, SEND) leave before the
      // turn's fan-out is built: a publisher's OK does not wait behind thousands of deliveries.
      // A socket that also gets broadcasts is written once more below, its frames still in order.
      const replies = this.flushes;
      this.flushes = [];
      for (let i = 0; i < replies.length; i++) replies[i]!.run();
      const broadcasts = this.broadcasts;
      this.broadcasts = [];
      for (let i = 0; i < broadcasts.length; i++) broadcasts[i]!.run();
      // Swapped after the broadcasts ran: the sockets they wrote to are flushed in this turn.
      const flushes = this.flushes;
      this.flushes = [];
      for (let i = 0; i < flushes.length; i++) flushes[i]!.run();
    } finally {
      // Even after a throw, later turns must still be scheduled.
      this.queued = false;
      if (this.mailboxes.length > 0 || this.broadcasts.length > 0 || this.flushes.length > 0) this.requestTurn();
    }
  };
}

/** One event loop per process, so one scheduler: brokers in the same process share its turns. */
export const turnScheduler = new TurnScheduler();
