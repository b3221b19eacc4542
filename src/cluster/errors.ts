/**
 * Why a cluster operation failed.
 * - REJECTED: the destination's handler refused a reliable payload (final, not retried).
 * - QUEUE_FULL: the store-and-forward queue is at `maxQueued`; the payload was not taken.
 * - CLOSED: this node was closed before the payload was handed on.
 * - TIMEOUT: a directory lookup got no answer in time.
 * - UNREACHABLE: a reliable payload sent with `giveUpIfUnreachable` was withdrawn because its
 *   destination left the graph (the caller picks another destination).
 */
export type ClusterErrorCode = 'REJECTED' | 'QUEUE_FULL' | 'CLOSED' | 'TIMEOUT' | 'UNREACHABLE';

export class ClusterError extends Error {
  override name = 'ClusterError';

  constructor(
    readonly code: ClusterErrorCode,
    message: string,
  ) {
    super(message);
  }
}
