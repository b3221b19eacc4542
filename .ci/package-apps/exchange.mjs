// Plain JS ESM app: embeds a broker (relaymesh) and connects a client (relaymesh/client) to it;
// one message goes from the broker to the device and one from the device back to a subscriber.
import { createBroker } from 'relaymesh';
import { RelaymeshClient } from 'relaymesh/client';

const broker = await createBroker({ host: '127.0.0.1', port: Number(process.env.PORT), dataDir: './data', anonymous: true, logLevel: 'warn' });
const device = new RelaymeshClient({ url: `ws://127.0.0.1:${broker.port}/`, deviceId: 'esm-device' });
const received = new Promise((resolve) => device.on('message', (m) => resolve(new TextDecoder().decode(m.payload))));
await device.connect();
await device.subscribe(['news/#']);
await broker.publish('news/today', 'hello from the embedded broker');
const text = await Promise.race([received, new Promise((_, reject) => setTimeout(() => reject(new Error('no message within 60 s')), 60_000))]);
console.log(`esm app received: ${text}`);
await device.close();
await broker.close();
