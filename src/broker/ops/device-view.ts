import type { LiveDevice } from '../device-registry.js';

/** What operators see of a connected device (admin API and dashboard alike). */
export function liveDeviceView(d: LiveDevice, nodeId: string) {
  return {
    deviceId: d.session.deviceId,
    node: nodeId,
    sessionId: d.session.sessionId,
    state: d.status.state,
    remoteAddress: d.conn.remoteAddress,
    subscriptions: [...d.session.subscriptions.keys()],
    inflight: d.outbox.inflightCount,
    counters: { ...d.session.counters, dropped: d.conn.framesDropped },
  };
}
