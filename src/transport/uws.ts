import uWS from 'uWebSockets.js';

export type { TemplatedApp, WebSocket, WebSocketBehavior, us_listen_socket } from 'uWebSockets.js';

/**
 * uWebSockets.js silently falls back to a slow pure-JS implementation when its native
 * binary fails to load (or UWS_USE_FALLBACK is set). The fallback lacks SSLApp.
 */
export function isUwsNative(): boolean {
  return typeof uWS.SSLApp === 'function';
}

/** Returns the uWS module, refusing the pure-JS fallback unless explicitly allowed. */
export function loadUws(allowFallback: boolean): typeof uWS {
  if (!isUwsNative() && !allowFallback) {
    throw new Error(
      'uWebSockets.js native binary did not load (pure-JS fallback active): relaymesh refuses to run on it. ' +
        'Use Node 20 on linux-x64/arm64, unset UWS_USE_FALLBACK, or pass allowUwsFallback: true (--allow-uws-fallback) to run slowly anyway.',
    );
  }
  return uWS;
}
