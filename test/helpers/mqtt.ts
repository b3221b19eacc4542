import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';

/** The two ways an MQTT client reaches a test broker: TCP (`mqttPort`) and WebSocket at `/mqtt`. */
export const mqttTransports = [
  { name: 'TCP', url: (b: { mqttPort: number | undefined }) => `mqtt://127.0.0.1:${b.mqttPort}` },
  { name: 'WebSocket', url: (b: { port: number }) => `ws://127.0.0.1:${b.port}/mqtt` },
] as const;

export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  dup: boolean;
  messageId: number | undefined;
  /** 5.0 publication properties, as MQTT.js parsed them. */
  properties: IPublishPacket['properties'];
}

/** An MQTT.js client connected to a test broker (no auto-reconnect), ended when the test ends. */
export async function mqttClient(
  t: { teardown(fn: () => unknown): void },
  url: string,
  options: IClientOptions = {},
): Promise<MqttClient & { received: Received[] }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, ...options });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) =>
    received.push({ topic, payload, qos: packet.qos, retain: packet.retain, dup: packet.dup, messageId: packet.messageId, properties: packet.properties }),
  );
  t.teardown(() => client.endAsync(true).catch(() => undefined));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return Object.assign(client, { received });
}

/** Waits (bounded) until `condition` holds; polls, since the events come from several sources. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The first CONNACK (or error) of a client that may be refused. */
export function connectOutcome(url: string, options: IClientOptions): Promise<{ connected: boolean; code?: number; client: MqttClient }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ connected: true, client }));
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      resolve({ connected: false, ...(err.code !== undefined ? { code: err.code } : {}), client });
    });
  });
}
