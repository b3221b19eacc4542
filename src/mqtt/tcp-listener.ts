import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { turnScheduler, type TurnTask } from '../../actors/turn-scheduler.js';
import type { MqttLink, MqttLinkEvents } from './link.js';

export interface TcpListenerOptions {
  host: string;
  port: number;
  tls?: { keyFile: string; certFile: string; passphrase?: string };
  softBackpressureBytes: number;
  hardBackpressureBytes: number;
}

export interface TcpListener {
  readonly port: number;
  /** Stops accepting; open connections stay until closed. */
  close(): Promise<void>;
}

/** How long an ended socket may take to finish before it is destroyed. */
const FORCE_CLOSE_AFTER_MS = 5000;

/** MQTT over TCP (or TLS with the broker's key and certificate): sockets in, MqttLinks out. */
export async function startTcpListener(options: TcpListenerOptions, events: MqttLinkEvents): Promise<TcpListener> {
  const onSocket = (socket: Socket): void => {
    socket.setNoDelay(true);
    const link = new TcpLink(socket, options);
    const receiver = events.onOpen(link);
    socket.on('data', (chunk: Buffer) => {
      try {
        receiver.receive(chunk);
      } catch {
        // Nothing a device sends may reach the process as an exception: that socket goes instead.
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      link.markClosed();
      receiver.linkClosed();
    });
  };
  const server: Server = options.tls
    ? createTlsServer(
        {
          key: readFileSync(options.tls.keyFile),
          cert: readFileSync(options.tls.certFile),
          ...(options.tls.passphrase ? { passphrase: options.tls.passphrase } : {}),
        },
        onSocket,
      )
    : createTcpServer(onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`cannot listen for MQTT on ${options.host}:${options.port}: ${err.message}`)));
    server.listen(options.port, options.host, () => resolve());
  });
  // A failed TLS handshake or a reset before 'connection' must not reach the process.
  server.on('error', () => undefined);
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * One TCP connection: a turn's writes leave in one socket write (queued with the WebSocket
 * flushes of the turn, sent corked, so the kernel gets them as one writev without a copy); a
 * socket backed up past the soft limit loses its QoS 0 deliveries (counted), past the hard
 * limit it is cut.
 */
class TcpLink implements MqttLink, TurnTask {
  private pending: Uint8Array[] = [];
  private gone = false;
  framesDropped = 0;
  readonly remoteAddress: string;

  constructor(
    private readonly socket: Socket,
    private readonly limits: { softBackpressureBytes: number; hardBackpressureBytes: number },
  ) {
    this.remoteAddress = socket.remoteAddress ?? '';
  }

  write(bytes: Uint8Array, droppable: boolean): void {
    if (this.gone) return;
    const buffered = this.socket.writableLength;
    if (buffered > this.limits.hardBackpressureBytes) {
      this.socket.destroy();
      return;
    }
    if (droppable && buffered > this.limits.softBackpressureBytes) {
      this.framesDropped++;
      return;
    }
    this.pending.push(bytes);
    if (this.pending.length === 1) turnScheduler.flush(this);
  }

  end(): void {
    if (this.gone) return;
    this.run();
    this.gone = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), FORCE_CLOSE_AFTER_MS).unref();
  }

  markClosed(): void {
    this.gone = true;
    this.pending = [];
  }

  run(): void {
    const batch = this.pending;
    if (batch.length === 0 || this.socket.destroyed) return;
    this.pending = [];
    if (batch.length === 1) {
      this.socket.write(batch[0]!);
      return;
    }
    this.socket.cork();
    for (let i = 0; i < batch.length; i++) this.socket.write(batch[i]!);
    this.socket.uncork();
  }
}
