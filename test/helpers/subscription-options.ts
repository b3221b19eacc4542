import type { IClientOptions } from 'mqtt';
import { mqttClient, until, type Received } from './mqtt.js';

/** A 5.0 client with a persistent session (clean start 0, an hour of session expiry). */
export const PERSISTENT_OPTIONS_CLIENT = { clientId: 'keeps-options', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 } } satisfies IClientOptions;

type Client = Awaited<ReturnType<typeof mqttClient>>;
type Test = { teardown(fn: () => unknown): void; same(found: unknown, wanted: unknown, message: string): void };

/** Subscribes with No Local (`chat/#`), Retain As Published (`st/#`) and Subscription Identifier 7 (`fleet/#`). */
export async function subscribeWithOptions(client: Client): Promise<void> {
  await client.subscribeAsync('chat/#', { qos: 1, nl: true });
  await client.subscribeAsync('st/#', { qos: 1, rap: true });
  await client.subscribeAsync('fleet/#', { qos: 1, properties: { subscriptionIdentifier: 7 } });
}

/**
 * Checks that a session resumed without subscribing again still has the options
 * `subscribeWithOptions` set: its own message on `chat/#` does not come, a retained one on
 * `st/#` keeps RETAIN, one on `fleet/#` carries identifier 7.
 */
export async function expectOptionsHonoured(t: Test, url: string, resumed: Client): Promise<void> {
  const other = await mqttClient(t, url, { clientId: 'someone-else', protocolVersion: 5 });
  await resumed.publishAsync('chat/room', 'mine', { qos: 1 });
  await other.publishAsync('st/a', 'retained', { qos: 1, retain: true });
  await other.publishAsync('fleet/car-1', 'identified', { qos: 1 });
  await other.publishAsync('chat/room', 'marker', { qos: 1 });
  const byPayload = (payload: string): Received | undefined => resumed.received.find((m) => m.payload.toString() === payload);
  await until(() => ['retained', 'identified', 'marker'].every((p) => byPayload(p) !== undefined), 'the three messages of the other client', 30_000);
  t.same(resumed.received.map((m) => m.payload.toString()).sort(), ['identified', 'marker', 'retained'], 'no local: its own message did not come');
  t.same(byPayload('retained')?.retain, true, 'retain as published: RETAIN kept');
  t.same(byPayload('identified')?.properties?.subscriptionIdentifier, 7, 'subscription identifier on the PUBLISH');
  t.same(byPayload('marker')?.properties?.subscriptionIdentifier, undefined, 'no identifier where the subscription has none');
}
