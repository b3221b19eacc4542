import t from 'tap';
import { writeFileSync } from 'node:fs';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { CloseCode, ErrorCode, FrameKind, shouldReconnect } from '../src/index.js';
import { startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';

const SECRET = 'relaymesh-test-secret-0123456789';
const key = new TextEncoder().encode(SECRET);

function token(sub: string, opts: { expiresIn?: string | number; scope?: unknown; secret?: Uint8Array } = {}): Promise<string> {
  const jwt = new SignJWT({ ...(opts.scope !== undefined ? { scope: opts.scope } : {}) }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub);
  jwt.setExpirationTime(opts.expiresIn ?? '1h');
  return jwt.sign(opts.secret ?? key);
}

async function hello(url: string, deviceId: string, jwt?: string) {
  const client = await RawClient.open(url);
  client.send({ kind: FrameKind.HELLO, seq: 1, versions: [1], deviceId, ...(jwt ? { token: jwt } : {}) });
  const reply = await client.waitFor((f) => f.kind === FrameKind.WELCOME || f.kind === FrameKind.ERROR);
  return { client, reply };
}

t.test('JWT: a valid token connects; a bad, expired, missing or mismatched one is refused', async (t) => {
  const broker = await startTestBroker(t, { anonymous: false, jwt: { secret: SECRET } });
  const good = await hello(broker.url, 'car-1', await token('car-1'));
  t.equal(good.reply.kind, FrameKind.WELCOME);
  good.client.close();
  const cases: [string, string | undefined, RegExp][] = [
    ['wrong signature', await token('car-1', { secret: new TextEncoder().encode('another-secret-0123456789') }), /invalid token/],
    ['expired', await token('car-1', { expiresIn: Math.floor(Date.now() / 1000) - 10 }), /expired/],
    ['missing', undefined, /required/],
    ['other device', await token('car-2'), /subject/],
    ['garbage', 'not.a.jwt', /invalid token/],
  ];
  for (const [name, jwt, reason] of cases) {
    const { client, reply } = await hello(broker.url, 'car-1', jwt);
    t.equal(reply.kind === FrameKind.ERROR && reply.code, ErrorCode.UNAUTHORIZED, name);
    t.match(reply.kind === FrameKind.ERROR ? reply.message : '', reason, `${name}: says why`);
    const closed = await client.closed();
    t.equal(closed.code, CloseCode.UNAUTHORIZED);
    t.equal(shouldReconnect(closed.code), false);
  }
});

t.test('JWT: a session is closed with TOKEN_EXPIRED when its token runs out, unless refreshed', async (t) => {
  const broker = await startTestBroker(t, { anonymous: false, jwt: { secret: SECRET }, heartbeatMs: 200, idleTimeoutMs: 60_000, handshakeTimeoutMs: 400 });
  const soon = Math.floor(Date.now() / 1000) + 2;
  const expiring = await hello(broker.url, 'short', await token('short', { expiresIn: soon }));
  const refreshed = await hello(broker.url, 'long', await token('long', { expiresIn: soon }));
  const ok = await refreshed.client.request({ kind: FrameKind.AUTH, seq: 5, token: await token('long', { expiresIn: '1h' }) });
  t.equal(ok.kind, FrameKind.OK, 'token refreshed in-session');
  const bad = await refreshed.client.request({ kind: FrameKind.AUTH, seq: 6, token: await token('someone-else') });
  t.equal(bad.kind === FrameKind.ERROR && bad.code, ErrorCode.UNAUTHORIZED, 'a refresh for another device is refused');
  t.equal((await expiring.client.closed(6000)).code, CloseCode.TOKEN_EXPIRED);
  refreshed.client.send({ kind: FrameKind.PING, seq: 7 });
  await refreshed.client.next(FrameKind.PONG);
  t.equal(refreshed.client.closeEvent, undefined, 'the refreshed session lives on');
  refreshed.client.close();
});

t.test('ACL from token scope: denied SUB, PUB and SEND get FORBIDDEN; allowed ones work', async (t) => {
  const broker = await startTestBroker(t, { anonymous: false, jwt: { secret: SECRET } });
  const scope = { pub: ['fleet/car-1/#'], sub: ['fleet/+/cmd', 'broadcast'], send: ['dispatcher'] };
  const { client } = await hello(broker.url, 'car-1', await token('car-1', { scope }));
  const expectForbidden = async (frame: Parameters<RawClient['request']>[0], what: string) => {
    const reply = await client.request(frame);
    t.equal(reply.kind === FrameKind.ERROR && reply.code, ErrorCode.FORBIDDEN, what);
  };
  await expectForbidden({ kind: FrameKind.SUB, seq: 1, filters: ['fleet/#'] }, 'a wider filter than allowed');
  await expectForbidden({ kind: FrameKind.PUB, seq: 2, topic: 'fleet/car-2/speed', payload: Buffer.from('1'), qos: 1 }, "another device's topic");
  await expectForbidden({ kind: FrameKind.SEND, seq: 3, target: 'car-9', payload: Buffer.from('1'), qos: 1 }, 'an unlisted target');
  t.equal((await client.request({ kind: FrameKind.SUB, seq: 4, filters: ['fleet/car-1/cmd', 'broadcast'] })).kind, FrameKind.OK);
  t.equal((await client.request({ kind: FrameKind.PUB, seq: 5, topic: 'fleet/car-1/speed', payload: Buffer.from('1'), qos: 1 })).kind, FrameKind.OK);
  t.equal((await client.request({ kind: FrameKind.SEND, seq: 6, target: 'dispatcher', payload: Buffer.from('1'), qos: 1 })).kind, FrameKind.OK);
  t.same(broker.device('car-1')?.subscriptions.sort(), ['broadcast', 'fleet/car-1/cmd']);
  client.close();
});

t.test('RS256 tokens verified against a JWKS file, with a static ACL file for scope-less tokens', async (t) => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const dir = t.testdir({});
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  writeFileSync(`${dir}/jwks.json`, JSON.stringify({ keys: [jwk] }));
  writeFileSync(`${dir}/acl.json`, JSON.stringify({ devices: { 'sensor-1': 'pub:sensors/sensor-1/# sub:none' }, default: { pub: [], sub: [] } }));
  const broker = await startTestBroker(t, { anonymous: false, jwt: { jwksFile: `${dir}/jwks.json` }, aclFile: `${dir}/acl.json` });
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('sensor-1').setExpirationTime('1h').sign(privateKey);
  const { client, reply } = await hello(broker.url, 'sensor-1', jwt);
  t.equal(reply.kind, FrameKind.WELCOME);
  t.equal((await client.request({ kind: FrameKind.PUB, seq: 2, topic: 'sensors/sensor-1/t', payload: Buffer.from('1'), qos: 1 })).kind, FrameKind.OK);
  const denied = await client.request({ kind: FrameKind.PUB, seq: 3, topic: 'sensors/other/t', payload: Buffer.from('1'), qos: 1 });
  t.equal(denied.kind === FrameKind.ERROR && denied.code, ErrorCode.FORBIDDEN, 'the ACL file applies');
  client.close();
});

t.test('invalid auth options fail start-up with a clear message', async (t) => {
  await t.rejects(startTestBroker(t, { anonymous: false }), /jwt|authenticate|anonymous/);
  await t.rejects(startTestBroker(t, { anonymous: false, jwt: { secret: 'short' } }), /at least 16/);
  await t.rejects(startTestBroker(t, { anonymous: false, jwt: { jwksFile: '/nonexistent/jwks.json' } }), /ENOENT|no such file/);
});
