// CJS app with only @relaymesh/client installed: two devices on a broker started by the CLI;
// one subscribes, the other publishes until the first has the message.
const { RelaymeshClient } = require('@relaymesh/client');

async function main() {
  const url = `ws://127.0.0.1:${process.env.PORT}/`;
  const listener = new RelaymeshClient({ url, deviceId: 'cjs-listener' });
  const talker = new RelaymeshClient({ url, deviceId: 'cjs-talker' });
  let text;
  listener.on('message', (m) => (text = Buffer.from(m.payload).toString()));
  await listener.connect();
  await talker.connect();
  await listener.subscribe(['chat/#']);
  for (let i = 0; i < 300 && text === undefined; i++) {
    await talker.publish('chat/room', 'hello from cjs');
    await new Promise((r) => setTimeout(r, 200));
  }
  if (text === undefined) throw new Error('no message within 60 s');
  console.log(`cjs app received: ${text}`);
  await listener.close();
  await talker.close();
}
main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
