import { ErrorCode, ProtocolError, type BrokerPort, type DirectMessage, type Publication, type Qos, type Stored } from '../protocol/index.js';
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
 * One per connection, so its methods live on the prototype (no closures per device).
 */
export class DevicePort implements BrokerPort {
  /** The device served, set once it exists (its actor, which holds this port, comes first). */
  device!: LiveDevice;

  constructor(private readonly deps: DevicePortDeps) {}

  subscribe(filters: readonly string[], qos: Qos): void {
    const d = this.device;
    checkSubscribe(d.auth.acl, filters);
    d.session.subscribe(filters, qos);
  }

  unsubscribe(filters: readonly string[]): void {
    this.device.session.unsubscribe(filters);
  }

  publish(publication: Publication): Stored | undefined | Promise<Stored | undefined> {
    const d = this.device;
    checkPublish(d.auth.acl, publication.topic);
    d.conn.tally.messagesIn++;
    const delivered = this.deps.delivery.publish(publication);
    return delivered instanceof Promise ? delivered.then((r) => r.stored) : delivered.stored;
  }

  async send(message: DirectMessage): Promise<Stored | undefined> {
    const d = this.device;
    checkSend(d.auth.acl, message.target);
    d.conn.tally.messagesIn++;
    return (await this.deps.delivery.send(message)).stored;
  }

  ack(stream: string, offset: number): void | Promise<void> {
    return this.device.outbox.ack(stream, offset);
  }

  resync(stream: string, offset: number): void {
    this.device.outbox.resync(stream, offset);
  }

  async reauthenticate(token: string): Promise<void> {
    const d = this.device;
    const result = await this.deps.authenticate({ deviceId: d.session.deviceId, token, remoteAddress: d.conn.remoteAddress });
    if (!result.ok) throw new ProtocolError(ErrorCode.UNAUTHORIZED, result.reason);
    d.auth = { ...result };
  }

  newTraceId(): string {
    return this.deps.newTraceId();
  }
}
