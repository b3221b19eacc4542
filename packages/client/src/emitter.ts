/** A small typed event emitter: listeners get the payload type declared for their event. */

type Listener<T> = (payload: T) => void;

export class TypedEmitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): this {
    const wrapper: Listener<Events[K]> = (payload) => {
      this.off(event, wrapper);
      listener(payload);
    };
    return this.on(event, wrapper);
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event) as Set<Listener<Events[K]>> | undefined;
    if (!set) return;
    // Copy: a listener may remove itself (once) or others while we iterate.
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        this.listenerFailed(error, event);
      }
    }
  }

  /**
   * Receives whatever a listener throws, so one failing listener neither skips the others nor
   * unwinds into the code that emitted. By default rethrown on its own, as an uncaught error.
   */
  protected listenerFailed(error: unknown, _event: keyof Events): void {
    queueMicrotask(() => {
      throw error;
    });
  }
}
