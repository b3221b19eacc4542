import { ErrorCode, ProtocolError, type BrokerPort } from '../protocol/index.js';
import { checkPublish, checkSend, checkSubscribe, type VerdictSource } from './auth/index.js';
import type { MessageRouter } from './delivery.js';
import type { LiveDevice } from './device-registry.js';
import type { DurableIndex } from './durable/durable-index.js';
import type { SessionKeeper } from './durable/session-keeper.js';
import type { TopicFanout } from './topic-fanout.js';

export interface DevicePortDeps {
  fanout: TopicFanout<LiveDevice>;
  index: DurableIndex;
  sessions: SessionKeeper;
  delivery: MessageRouter;
  authenticate: VerdictSource;
  maxSubscriptions: number;
  newTraceId: () => string;
}

/**
 * What one connected device may ask of the broker, with its ACL and limits applied: a denied
 * or over-limit request is a ProtocolError (an ERROR frame for that request), never a silent drop.
 */
export function devicePort(deps: DevicePortDeps, device: () => LiveDevice): BrokerPort {
  const { fanout, index, sessions, delivery } = deps;
  return {
    subscribe(filters, qos) {
      const d = device();
      checkSubscribe(d.auth.acl, filters);
      const added = filters.filter((f) => !d.session.subscriptions.has(f)).length;
      if (d.session.subscriptions.size + added > deps.maxSubscriptions) {
        throw new ProtocolError(ErrorCode.TOO_MANY_SUBSCRIPTIONS, `at most ${deps.maxSubscriptions} subscriptions per connection`);
      }
      for (const filter of filters) {
        fanout.subscribe(d, filter, qos);
        index.subscribe(d.session.deviceId, filter, qos);
        d.session.subscriptions.set(filter, qos);
      }
      sessions.saveConnected(d.session.deviceId, d.session.subscriptions);
    },
    unsubscribe(filters) {
      const d = device();
      for (const filter of filters) {
        fanout.unsubscribe(d, filter);
        index.unsubscribe(d.session.deviceId, filter);
        d.session.subscriptions.delete(filter);
      }
      sessions.saveConnected(d.session.deviceId, d.session.subscriptions);
    },
    publish(publication) {
      checkPublish(device().auth.acl, publication.topic);
      const delivered = delivery.publish(publication);
      return delivered instanceof Promise ? delivered.then((r) => r.stored) : delivered.stored;
    },
    async send(message) {
      checkSend(device().auth.acl, message.target);
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
