import { dispatch, spawn, stop, type Ref, type SupervisionActorFunc } from 'nact';
import {
  CloseCode,
  ConnectionState,
  ErrorCode,
  FrameKind,
  ProtocolError,
  encodeFrame,
  type BrokerPort,
  type CommandRegistry,
  type ConnectionStatus,
  type Effect,
  type Frame,
  type Outbound,
  type Session,
} from '../src/protocol/index.js';
import { DeviceMailbox } from './device-mailbox.js';
import type { TurnScheduler } from './turn-scheduler.js';

/** What a device actor is told. Frames arrive in socket order; the mailbox keeps that order. */
export type DeviceMsg =
  | { type: 'start' }
  | { type: 'frame'; frame: Frame }
  | { type: 'close'; code: CloseCode; reason: string }
  | { type: 'crash'; reason: string };

/** Everything a device actor works with. Kept outside the actor so a restart finds it intact. */
export interface DeviceContext {
  session: Session;
  status: ConnectionStatus;
  registry: CommandRegistry;
  broker: BrokerPort;
  outbound: Outbound;
  /** Runs once when the session goes live (e.g. replay of stored messages). */
  onLive?: () => void | Promise<void>;
}

/**
 * One device connection's actor: its mailbox handles the device's messages in the turn they
 * arrived (see TurnScheduler), and a nact actor under the shard supervisor gives it a name,
 * a lifecycle and supervision. The nact actor receives only faults: a handler that throws is
 * reported to it, it rethrows, the shard restarts it, and the restart resumes the mailbox.
 */
export interface DeviceActor {
  readonly name: string;
  /** Queues a message behind the device's earlier ones. */
  post(msg: DeviceMsg): void;
  /** Handles the messages already queued, then calls `last` (which is expected to stop the actor). */
  finish(last: () => void): void;
  /** Stops the actor; queued messages are dropped. Safe to call twice. */
  stop(): void;
}

interface Fault {
  error: unknown;
}

/** Spawns the actor for one device connection under its shard supervisor. */
export function spawnDeviceActor(shard: Ref<unknown>, name: string, device: DeviceContext, scheduler: TurnScheduler): DeviceActor {
  return new SupervisedDeviceActor(shard, name, device, scheduler);
}

/**
 * Kept lean (it exists once per connection): methods on the prototype, and the nact behaviour
 * and crash policy shared by every device; only what needs this device's state is a closure.
 */
class SupervisedDeviceActor implements DeviceActor {
  private readonly mailbox: DeviceMailbox<DeviceMsg>;
  private readonly supervised: Ref<Fault>;
  private stopped = false;

  constructor(
    shard: Ref<unknown>,
    readonly name: string,
    device: DeviceContext,
    scheduler: TurnScheduler,
  ) {
    const mailbox = (this.mailbox = new DeviceMailbox<DeviceMsg>(
      scheduler,
      (msg) => handleDeviceMsg(device, msg),
      (error) => dispatch(this.supervised, { error }),
    ));
    let started = false;
    this.supervised = spawn(shard, rethrowFault, name, {
      // A restart by the shard re-runs this: the session and socket survive, the count shows it.
      initialStateFunc: () => {
        if (started) {
          device.session.counters.restarts++;
          mailbox.resume();
        }
        started = true;
        return device;
      },
      onCrash: escalate,
    });
  }

  post(msg: DeviceMsg): void {
    this.mailbox.post(msg);
  }

  finish(last: () => void): void {
    this.mailbox.finish(last);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.mailbox.stop();
    stop(this.supervised);
  }
}

/** The nact actor's behaviour: it receives only faults, and rethrows them for its shard. */
function rethrowFault(_state: DeviceContext, fault: Fault): DeviceContext {
  throw fault.error;
}

const escalate: SupervisionActorFunc<Fault, Ref<unknown>, Ref<unknown>> = (_msg, _err, ctx) => ctx.escalate;

function handleDeviceMsg(device: DeviceContext, msg: DeviceMsg): void | Promise<void> {
  const { status, outbound } = device;
  switch (msg.type) {
    case 'start':
      return status.state === ConnectionState.Authenticated ? goLive(device) : undefined;
    case 'frame':
      return status.state === ConnectionState.Closing ? undefined : handleFrame(device, msg.frame);
    case 'close':
      status.state = ConnectionState.Closing;
      outbound.close(msg.code, msg.reason);
      return;
    case 'crash':
      throw new Error(`injected fault: ${msg.reason}`);
  }
}

async function goLive(device: DeviceContext): Promise<void> {
  await device.onLive?.();
  if (device.status.state === ConnectionState.Authenticated) device.status.state = ConnectionState.Live;
}

/** Synchronous when the handler is (PING, QoS 0 PUB): no promise per frame on the hot path. */
function handleFrame(device: DeviceContext, frame: Frame): void | Promise<void> {
  const { session, registry } = device;
  session.counters.framesIn++;
  const handler = registry.lookup(session.version, frame.kind);
  if (!handler) {
    sendError(device, ErrorCode.UNKNOWN_COMMAND, `frame kind ${frame.kind} is not a command in version ${session.version}`, frame.seq);
    return;
  }
  let effects: Effect[] | Promise<Effect[]>;
  try {
    effects = handler(frame as never, { session, broker: device.broker });
  } catch (err) {
    return failed(device, frame, err);
  }
  if (Array.isArray(effects)) return apply(device, effects);
  return effects.then(
    (list) => apply(device, list),
    (err: unknown) => failed(device, frame, err),
  );
}

/** A ProtocolError is the client's problem (an ERROR frame); anything else also crashes the actor for its supervisor. */
function failed(device: DeviceContext, frame: Frame, err: unknown): void {
  if (err instanceof ProtocolError) {
    sendError(device, err.code, err.message, frame.seq);
    return;
  }
  sendError(device, ErrorCode.INTERNAL, 'internal error', frame.seq);
  throw err;
}

function apply(device: DeviceContext, effects: Effect[]): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'send':
        device.outbound.write(encodeFrame(effect.frame));
        device.session.counters.framesOut++;
        break;
      case 'close':
        device.status.state = ConnectionState.Closing;
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
