import { FrameKind } from '../frames.js';
import { CommandRegistry } from '../registry.js';
import { handleAck } from './ack.js';
import { handleAuth } from './auth.js';
import { handleHello, handleRepeatedHello } from './hello.js';
import { handlePing } from './ping.js';
import { handlePub } from './pub.js';
import { handleResync } from './resync.js';
import { handleSend } from './send.js';
import { handleSub } from './sub.js';
import { handleUnsub } from './unsub.js';

/** Registers protocol v1's client-to-server commands. */
export function registerV1(registry: CommandRegistry): CommandRegistry {
  return registry
    .register(1, FrameKind.HELLO, handleRepeatedHello)
    .register(1, FrameKind.PING, handlePing)
    .register(1, FrameKind.SUB, handleSub)
    .register(1, FrameKind.UNSUB, handleUnsub)
    .register(1, FrameKind.PUB, handlePub)
    .register(1, FrameKind.SEND, handleSend)
    .register(1, FrameKind.ACK, handleAck)
    .register(1, FrameKind.RESYNC, handleResync)
    .register(1, FrameKind.AUTH, handleAuth);
}

export { handleHello };

export function createDefaultRegistry(): CommandRegistry {
  return registerV1(new CommandRegistry());
}
