import t from 'tap';
import { handleHello } from '../src/protocol/handlers/index.js';
import { CloseCode, ErrorCode, FrameKind, type HandshakePort, type HelloFrame } from '../src/protocol/index.js';

type Grant = { ok: true; who: string };

/** A broker side that admits the token 'good' and holds a session of 'known'. */
function port(): HandshakePort<Grant> {
  return {
    versions: [1],
    limits: { heartbeatMs: 1000, maxFrameBytes: 2048, maxInflight: 8 },
    authenticate: async (hello) => (hello.token === 'good' ? { ok: true, who: hello.deviceId } : { ok: false, reason: 'bad token' }),
    hasSession: (deviceId) => deviceId === 'known',
    newSessionId: () => 'sid-1',
  };
}

const hello = (fields: Partial<HelloFrame> = {}): HelloFrame => ({ kind: FrameKind.HELLO, seq: 7, versions: [1], deviceId: 'known', token: 'good', ...fields });

t.test('an accepted HELLO admits the device, then welcomes it', async (t) => {
  const effects = await handleHello(hello(), port());
  t.same(effects, [
    { type: 'admit', hello: hello(), version: 1, sessionId: 'sid-1', grant: { ok: true, who: 'known' } },
    {
      type: 'send',
      frame: { kind: FrameKind.WELCOME, seq: 7, version: 1, sessionId: 'sid-1', heartbeatMs: 1000, maxFrameBytes: 2048, maxInflight: 8, sessionPresent: true },
    },
  ]);
});

t.test('WELCOME says whether a session was found', async (t) => {
  const effects = await handleHello(hello({ deviceId: 'new' }), port());
  const welcome = effects[1];
  t.ok(welcome?.type === 'send' && welcome.frame.kind === FrameKind.WELCOME && welcome.frame.sessionPresent === false);
});

t.test('no common version: ERROR for the HELLO, then close', async (t) => {
  t.same(await handleHello(hello({ versions: [9] }), port()), [
    { type: 'send', frame: { kind: FrameKind.ERROR, seq: 0, code: ErrorCode.UNSUPPORTED_VERSION, message: 'server speaks versions 1', ref: 7 } },
    { type: 'close', code: CloseCode.UNSUPPORTED_VERSION, reason: 'no common protocol version' },
  ]);
});

t.test('an invalid device id is refused before authentication', async (t) => {
  const effects = await handleHello(hello({ deviceId: '' }), port());
  t.equal(effects.length, 2);
  t.match(effects[0], { type: 'send', frame: { kind: FrameKind.ERROR, code: ErrorCode.INVALID_FIELD, ref: 7 } });
  t.same(effects[1], { type: 'close', code: CloseCode.PROTOCOL_VIOLATION, reason: 'invalid device id' });
});

t.test('refused credentials: ERROR with the reason, then close', async (t) => {
  t.same(await handleHello(hello({ token: 'bad' }), port()), [
    { type: 'send', frame: { kind: FrameKind.ERROR, seq: 0, code: ErrorCode.UNAUTHORIZED, message: 'bad token', ref: 7 } },
    { type: 'close', code: CloseCode.UNAUTHORIZED, reason: 'unauthorized' },
  ]);
});
