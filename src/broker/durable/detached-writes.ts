/** Told when a store write that nobody awaits has failed: the broker logs it and counts it. */
export type StoreWriteFailed = (operation: string, err: unknown) => void;

/**
 * Lets a store write run without waiting for it (its effect is already mirrored in memory, or
 * best effort), while a failure is reported instead of becoming an unhandled rejection.
 */
export function detachWrite(write: Promise<unknown>, operation: string, failed: StoreWriteFailed): void {
  write.catch((err: unknown) => failed(operation, err));
}
