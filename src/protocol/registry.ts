import type { FrameKind, FrameOf } from './frames.js';
import type { Effect, HandlerContext } from './ports.js';

export type Handler<K extends FrameKind> = (frame: FrameOf<K>, ctx: HandlerContext) => Effect[] | Promise<Effect[]>;

/**
 * Frame handlers keyed by protocol version and frame kind. Supporting a new frame kind
 * or version means registering handlers here, not editing a switch.
 */
export class CommandRegistry {
  private readonly byVersion = new Map<number, Map<FrameKind, Handler<FrameKind>>>();

  register<K extends FrameKind>(version: number, kind: K, handler: Handler<K>): this {
    let handlers = this.byVersion.get(version);
    if (!handlers) this.byVersion.set(version, (handlers = new Map()));
    if (handlers.has(kind)) throw new Error(`a handler for kind ${kind} in version ${version} is already registered`);
    handlers.set(kind, handler as unknown as Handler<FrameKind>);
    return this;
  }

  lookup<K extends FrameKind>(version: number, kind: K): Handler<K> | undefined {
    return this.byVersion.get(version)?.get(kind) as Handler<K> | undefined;
  }

  versions(): number[] {
    return [...this.byVersion.keys()].sort((a, b) => a - b);
  }
}
