// Strict TypeScript (NodeNext, exactOptionalPropertyTypes, no skipLibCheck): both packages' types.
import { createBroker, type AuthResult, type BrokerOptions } from 'relaymesh';
import { RelaymeshClient, type Message } from '@relaymesh/client';

const options: BrokerOptions = {
  host: '127.0.0.1',
  port: Number(process.env.PORT),
  dataDir: './data-exchange',
  logLevel: 'warn',
  authenticate: ({ token }): AuthResult => (token === 'let-me-in' ? { ok: true } : { ok: false, reason: 'bad token' }),
};
const broker = await createBroker(options);
const device = new RelaymeshClient({ url: `ws://127.0.0.1:${broker.port}/`, deviceId: 'ts-device', token: 'let-me-in' });
const received = new Promise<Message>((resolve) => device.on('message', resolve));
await device.connect();
await broker.send('ts-device', 'hello from typescript');
const message = await received;
console.log(`ts app received: ${new TextDecoder().decode(message.payload)} on ${message.stream}`);
await device.close();
await broker.close();
