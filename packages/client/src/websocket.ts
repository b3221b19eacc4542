/**
 * The slice of the WebSocket API the SDK uses. Both the browser's `WebSocket` and the `ws`
 * package's class fit it, so either can be passed as the `WebSocket` option.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the TCP connection without waiting for the closing handshake. */
  terminate?(): void;
  addEventListener(type: 'open' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` of an open socket, the same in every implementation. */
export const WEBSOCKET_OPEN = 1;

/** The platform's WebSocket: the global one in browsers (and newer Node), else the `ws` package. */
export async function loadWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return global;
  try {
    // Imported lazily so browser bundles never need `ws`.
    const ws = await import('ws');
    return ws.default as unknown as WebSocketConstructor;
  } catch (error) {
    throw new Error("no WebSocket implementation: install the 'ws' package or pass the WebSocket option", { cause: error });
  }
}
