import uWS from 'uWebSockets.js';
import { traceIdGenerator } from '../../src/broker/trace-ids.js';
import { FrameKind, decodeFrame, encodeFrame, type Frame } from '../../src/index.js';
import { BENCH_TOPIC } from './messages.js';
import type { PublishSink } from './publisher.js';

export type BareMode = 'uws-native' | 'cork-ceiling';

export interface BareServer {
  readonly port: number;
  readonly subscribers: number;
  readonly sink: PublishSink;
  /** Frames sent and corked socket writes by the send loop (NaN for uws-native: uWS does not say). */
  writeCounters(): { framesOut: number; socketWrites: number };
}

interface BareSocketData {
  /** Index in the socket array while subscribed (cork-ceiling), -1 otherwise. */
  slot: number;
  subscribed: boolean;
}

/**
 * The baselines, with no broker in the way: a bare uWS app speaking just enough of the
 * protocol (HELLO → WELCOME, SUB → OK) for the same subscribers, sending the same MSG bytes.
 * `uws-native` publishes through uWS's topic tree (`app.publish`); `cork-ceiling` keeps
 * an array of sockets and sends each tick's batch to each socket under one cork. A device's
 * PUB frames are published the same way, a tick's worth at the end of the tick.
 */
export async function startBareUws(mode: BareMode, host: string, maxBackpressureBytes: number): Promise<BareServer> {
  const app = uWS.App();
  const sockets: uWS.WebSocket<BareSocketData>[] = [];
  let subscribers = 0;
  const reply = (ws: uWS.WebSocket<BareSocketData>, frame: Frame): void => {
    ws.send(encodeFrame(frame), true);
  };

  app.ws<BareSocketData>('/*', {
    maxPayloadLength: 64 * 1024,
    maxBackpressure: maxBackpressureBytes,
    closeOnBackpressureLimit: 0,
    idleTimeout: 0,
    sendPingsAutomatically: false,
    upgrade: (res, req, context) => {
      res.upgrade<BareSocketData>(
        { slot: -1, subscribed: false },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    message: (ws, message) => {
      const decoded = decodeFrame(new Uint8Array(message));
      if (!decoded.ok) return;
      const frame = decoded.frame;
      if (frame.kind === FrameKind.HELLO) {
        reply(ws, { kind: FrameKind.WELCOME, seq: frame.seq, version: 1, sessionId: `bare-${frame.deviceId}`, heartbeatMs: 600_000, maxFrameBytes: 262_144, maxInflight: 100, sessionPresent: false });
      } else if (frame.kind === FrameKind.SUB) {
        const data = ws.getUserData();
        if (!data.subscribed) {
          data.subscribed = true;
          subscribers++;
          if (mode === 'uws-native') ws.subscribe(BENCH_TOPIC);
          else data.slot = sockets.push(ws) - 1;
        }
        reply(ws, { kind: FrameKind.OK, seq: 0, ref: frame.seq });
      } else if (frame.kind === FrameKind.PUB) {
        sink.publish(Buffer.from(frame.payload));
        if (!endOfTickScheduled) {
          endOfTickScheduled = true;
          setImmediate(endDeviceTick);
        }
      }
    },
    close: (ws) => {
      const data = ws.getUserData();
      if (!data.subscribed) return;
      subscribers--;
      if (data.slot >= 0) {
        // Swap-remove keeps the array dense for the send loop.
        const last = sockets.pop()!;
        if (last !== ws) {
          sockets[data.slot] = last;
          last.getUserData().slot = data.slot;
        }
        data.slot = -1;
      }
    },
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(host, 0, (socket) => (socket ? resolve(socket) : reject(new Error(`bare uWS cannot listen on ${host}`))));
  });

  // The same MSG frame the broker builds for a server-side publish (stream, offset 0, trace id, QoS 0).
  const newTraceId = traceIdGenerator();
  const encode = (payload: Buffer): Uint8Array =>
    encodeFrame({ kind: FrameKind.MSG, seq: 0, stream: BENCH_TOPIC, offset: 0, payload, traceId: newTraceId(), qos: 0 });

  let tickBatch: Uint8Array[] = [];
  let framesOut = 0;
  let socketWrites = 0;
  let endOfTickScheduled = false;
  const endDeviceTick = (): void => {
    endOfTickScheduled = false;
    sink.endTick();
  };
  const sink: PublishSink =
    mode === 'uws-native'
      ? { publish: (payload) => void app.publish(BENCH_TOPIC, encode(payload), true), endTick: () => undefined }
      : {
          publish: (payload) => void tickBatch.push(encode(payload)),
          endTick: () => {
            const batch = tickBatch;
            tickBatch = [];
            if (batch.length === 0) return;
            socketWrites += sockets.length;
            framesOut += sockets.length * batch.length;
            for (const ws of sockets) {
              ws.cork(() => {
                for (const bytes of batch) ws.send(bytes, true);
              });
            }
          },
        };

  return {
    port: uWS.us_socket_local_port(listenSocket as never),
    get subscribers() {
      return subscribers;
    },
    sink,
    writeCounters: () => (mode === 'uws-native' ? { framesOut: NaN, socketWrites: NaN } : { framesOut, socketWrites }),
  };
}
