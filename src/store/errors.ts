/** The store directory could not be opened; nothing in it was changed. */
export class StoreOpenError extends Error {
  constructor(
    readonly dir: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot open the message store in ${dir}: ${reason}`, options);
    this.name = 'StoreOpenError';
  }
}

/** A store method was called after `close()`. */
export class StoreClosedError extends Error {
  constructor(operation: string) {
    super(`message store is closed (${operation})`);
    this.name = 'StoreClosedError';
  }
}
