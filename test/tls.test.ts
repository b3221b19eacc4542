import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CloseCode, ErrorCode, FrameKind, decodeFrame, encodeFrame } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';

const fixtures = join(import.meta.dirname, 'fixtures');
const file = (name: string) => join(fixtures, name);

/** Opens a wss connection, says HELLO, and reports WELCOME, an ERROR code, or the connection failure. */
async function tryHello(url: string, deviceId: string, options: WebSocket.ClientOptions): Promise<string> {
  const ws = new WebSocket(url, { ca: readFileSync(file('ca.crt')), ...options });
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 5000);
    const done = (outcome: string) => {
      clearTimeout(timer);
      ws.terminate();
      resolve(outcome);
    };
    ws.on('error', (err) => done(`failed: ${err.message}`));
    ws.on('open', () => ws.send(encodeFrame({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId })));
    ws.on('message', (data: Buffer) => {
      const decoded = decodeFrame(data);
      if (decoded.ok && decoded.frame.kind === FrameKind.WELCOME) done('welcome');
      else if (decoded.ok && decoded.frame.kind === FrameKind.ERROR) done(`error ${decoded.frame.code}`);
    });
    ws.on('close', (code) => done(`closed ${code}`));
  });
}

t.test('TLS: devices connect over wss with the server certificate', async (t) => {
  const broker = await startTestBroker(t, { tls: { keyFile: file('server.key'), certFile: file('server.crt') } });
  t.equal(await tryHello(`wss://127.0.0.1:${broker.port}/`, 'car-1', {}), 'welcome');
});

t.test('mTLS: a client certificate from another CA is rejected at the TLS layer', async (t) => {
  const broker = await startTestBroker(t, { tls: { keyFile: file('server.key'), certFile: file('server.crt'), caFile: file('ca.crt') } });
  const url = `wss://127.0.0.1:${broker.port}/`;
  t.equal(await tryHello(url, 'car-1', { cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')) }), 'welcome', 'our CA: admitted');
  t.match(await tryHello(url, 'car-1', { cert: readFileSync(file('rogue.crt')), key: readFileSync(file('rogue.key')) }), /failed|closed/, 'other CA: refused');
  // Documented limitation of this uWebSockets.js build: no certificate at all is still admitted,
  // and the peer certificate cannot be read from JS. Deployments that need certificate identity
  // terminate TLS at a proxy and use trustedProxy (next test).
  t.equal(await tryHello(url, 'car-1', {}), 'welcome', 'no certificate: admitted (uWS limitation, see README)');
});

t.test('trusted proxy: the certificate identity header decides, and only from trusted addresses', async (t) => {
  const trusted = await startTestBroker(t, { anonymous: false, trustedProxy: { header: 'x-client-cert-cn', addresses: ['127.0.0.1'] } });
  const url = `ws://127.0.0.1:${trusted.port}/`;
  const asProxy = (cn: string) => ({ headers: { 'x-client-cert-cn': cn } });
  t.equal(await tryHello(url, 'car-1', asProxy('car-1')), 'welcome', 'identity matches the device id');
  t.equal(await tryHello(url, 'car-1', asProxy('car-2')), `error ${ErrorCode.UNAUTHORIZED}`, 'identity of another device');
  t.equal(await tryHello(url, 'car-1', {}), `error ${ErrorCode.UNAUTHORIZED}`, 'no identity and no other credentials');
  const untrusted = await startTestBroker(t, { anonymous: false, jwt: { secret: 'x'.repeat(32) }, trustedProxy: { header: 'x-client-cert-cn', addresses: ['10.9.9.9'] } });
  t.equal(await tryHello(`ws://127.0.0.1:${untrusted.port}/`, 'car-1', asProxy('car-1')), `error ${ErrorCode.UNAUTHORIZED}`, 'header from an untrusted address is ignored');
  t.equal(CloseCode.UNAUTHORIZED, 4501);
});
