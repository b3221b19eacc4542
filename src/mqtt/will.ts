import type { MessageProperties } from '../protocol/index.js';

export interface Will {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  retain: boolean;
  /** 5.0 will properties that travel with the message. */
  props?: MessageProperties;
  /** 5.0 will delay interval, in ms (0: at once). */
  delayMs: number;
}

/**
 * Will messages of clients that went away without DISCONNECT, each published after its delay
 * unless the same client id connects again first (spec 3.1.3.2.2).
 */
export class WillTimers {
  private readonly waiting = new Map<string, NodeJS.Timeout>();

  constructor(private readonly publish: (clientId: string, will: Will) => void) {}

  /** The connection of `clientId` ended without a clean goodbye: publish its will (after `delayMs`). */
  due(clientId: string, will: Will, delayMs: number): void {
    this.cancel(clientId);
    if (delayMs <= 0) return this.publish(clientId, will);
    const timer = setTimeout(() => {
      this.waiting.delete(clientId);
      this.publish(clientId, will);
    }, delayMs);
    timer.unref();
    this.waiting.set(clientId, timer);
  }

  /** `clientId` connected again: its pending will is dropped. */
  cancel(clientId: string): void {
    clearTimeout(this.waiting.get(clientId));
    this.waiting.delete(clientId);
  }

  /** The broker stops: pending wills are dropped (the store is closing). */
  clear(): void {
    for (const timer of this.waiting.values()) clearTimeout(timer);
    this.waiting.clear();
  }
}
