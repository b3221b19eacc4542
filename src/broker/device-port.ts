import { ErrorCode, ProtocolError, type BrokerPort } from '../protocol/index.js';
import { checkPublish, checkSend, checkSubscribe, type VerdictSource } from './auth/index.js';
import type { MessageRouter } from './delivery.js';
import type { LiveDevice } from './device-registry.js';

export interface DevicePortDeps {
  delivery: MessageRouter;
  authenticate: VerdictSource;
  newTraceId: () => string;
}

/**
 * What one connected device may ask of the broker, with its ACL and limits applied: a denied
 * or over-limit request is a ProtocolError (an ERROR frame for that request), never a silent drop.
 */
export function devicePort(deps: DevicePortDeps, device: () => LiveDevice): BrokerPort {
  const { delivery } = deps;
  return {
    subscribe(filters, qos) {
      const d = device();
      checkSubscribe(d.auth.acl, filters);
      d.session.subscribe(filters, qos);
    },
    unsubscribe: (filters) => device().session.unsubscribe(filters),
    publish(publication) {
      const d = device();
      checkPublish(d.auth.acl, publication.topic);
      d.conn.tally.messagesIn++;
      const delivered = delivery.publish(publication);
      return delivered instanceof Promise ? delivered.then((r) => r.stored) : delivered.stored;
    },
    async send(message) {
      const d = device();
      checkSend(d.auth.acl, message.target);
      d.conn.tally.messagesIn++;
      return (await delivery.send(message)).stored;
    },
    ack: (stream, offset) => device().outbox.ack(stream, offset),
    resync: (stream, offset) => device().outbox.resync(stream, offset),
    async reauthenticate(token) {
      const d = device();
      const result = await deps.authenticate({ deviceId: d.session.deviceId, token, remoteAddress: d.conn.remoteAddress });
      if (!result.ok) throw new ProtocolError(ErrorCode.UNAUTHORIZED, result.reason);
      d.auth = { ...result };
    },
    newTraceId: deps.newTraceId,
  };
}
