import { spawn, type Ref } from 'nact';
import {
  CloseCode,
  ErrorCode,
  FrameKind,
  ProtocolError,
  encodeFrame,
  type BrokerPort,
  type CommandRegistry,
  type Effect,
  type Frame,
  type Outbound,
  type Session,
} from '../src/protocol/index.js';

/** What a device actor is told. Frames arrive in socket order; nact keeps that order. */
export type DeviceMsg =
  | { type: 'start' }
  | { type: 'frame'; frame: Frame }
  | { type: 'close'; code: CloseCode; reason: string }
  | { type: 'crash'; reason: string };

/** Everything a device actor works with. Kept outside the actor so a restart finds it intact. */
export interface DeviceContext {
  session: Session;
  registry: CommandRegistry;
  broker: BrokerPort;
  outbound: Outbound;
  /** Runs once when the session goes live (e.g. replay of stored messages). */
  onLive?: () => Promise<void>;
}

/** Spawns the actor for one device connection under its shard supervisor. */
export function spawnDeviceActor(shard: Ref<unknown>, name: string, device: DeviceContext): Ref<DeviceMsg> {
  let started = false;
  return spawn(shard, handleDeviceMsg, name, {
    // A restart by the shard re-runs this: the session and socket survive, the count shows it.
    initialStateFunc: () => {
      if (started) device.session.counters.restarts++;
      started = true;
      return device;
    },
    onCrash: (_msg, _err, ctx) => ctx.escalate,
  });
}

async function handleDeviceMsg(device: DeviceContext, msg: DeviceMsg): Promise<DeviceContext> {
  const { session, outbound } = device;
  switch (msg.type) {
    case 'start':
      if (session.state === 'authenticated') {
        await device.onLive?.();
        if (session.state === 'authenticated') session.state = 'live';
      }
      break;
    case 'frame':
      if (session.state !== 'closing') await handleFrame(device, msg.frame);
      break;
    case 'close':
      session.state = 'closing';
      outbound.close(msg.code, msg.reason);
      break;
    case 'crash':
      throw new Error(`injected fault: ${msg.reason}`);
  }
  return device;
}

async function handleFrame(device: DeviceContext, frame: Frame): Promise<void> {
  const { session, registry } = device;
  session.counters.framesIn++;
  const handler = registry.lookup(session.version, frame.kind);
  if (!handler) {
    sendError(device, ErrorCode.UNKNOWN_COMMAND, `frame kind ${frame.kind} is not a command in version ${session.version}`, frame.seq);
    return;
  }
  try {
    apply(device, await handler(frame as never, { session, broker: device.broker }));
  } catch (err) {
    if (err instanceof ProtocolError) {
      sendError(device, err.code, err.message, frame.seq);
      return;
    }
    // Tell the client its request failed, then let the shard supervisor restart this actor.
    sendError(device, ErrorCode.INTERNAL, 'internal error', frame.seq);
    throw err;
  }
}

function apply(device: DeviceContext, effects: Effect[]): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'send':
        device.outbound.write(encodeFrame(effect.frame));
        device.session.counters.framesOut++;
        break;
      case 'close':
        device.session.state = 'closing';
        device.outbound.close(effect.code, effect.reason);
        break;
      case 'later':
        effect.effects.then(
          (effects) => apply(device, effects),
          (err: unknown) => {
            if (err instanceof ProtocolError) sendError(device, err.code, err.message, effect.ref);
            else sendError(device, ErrorCode.INTERNAL, 'internal error', effect.ref);
          },
        );
        break;
    }
  }
}

function sendError(device: DeviceContext, code: ErrorCode, message: string, ref: number): void {
  device.session.counters.errors++;
  apply(device, [{ type: 'send', frame: { kind: FrameKind.ERROR, seq: 0, code, message, ref } }]);
}
