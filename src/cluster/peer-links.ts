import type { IncomingMessage } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, WebSocketServer } from 'ws';
import { RetrySchedule, exponentialBackoff } from '../protocol/backoff.js';
import type { Logger } from '../logger.js';
import type { PeerAddress } from './discovery.js';
import { handshakeAsAcceptor, handshakeAsDialer, type HandshakeContext } from './handshake.js';
import { dialerTlsOptions, isLoopbackHost, listenerTlsOptions } from './link-tls.js';
import type { ResolvedClusterOptions } from './options.js';
import { PeerDialer } from './peer-dialer.js';
import type { PeerLink, PeerLinkTiming } from './peer-link.js';
import type { PeerTraffic } from './stats.js';
import { LinkClose, type Frame } from './wire.js';

export interface PeerLinksEvents {
  /** `link` became the active link to its peer (a first link, or one replacing a duplicate). */
  linkUp(link: PeerLink, first: boolean): void;
  /** The peer has no link any more. */
  linkDown(peerId: string): void;
  /** Any attached link closed (active or not): transfers awaiting an ack on it have failed. */
  linkClosed(link: PeerLink): void;
  measured(link: PeerLink): void;
  frame(link: PeerLink, frame: Frame): void;
}

const PATH = '/cluster';
/** Unauthenticated sockets allowed at once: a flood of half-open handshakes cannot exhaust the node. */
const MAX_HANDSHAKES = 64;
const CLOSE_GRACE_MS = 500;

/**
 * This node's links to its peers: the cluster port (a `ws` server), one dialer per known peer
 * address, and at most one active link per peer. When two nodes dial each other at once, both
 * keep the link dialled by the smaller node id, so both drop the same duplicate.
 */
export class PeerLinks {
  private server: WebSocketServer | undefined;
  /** With cluster TLS, the https server under `server`. */
  private tlsServer: HttpsServer | undefined;
  private readonly active = new Map<string, PeerLink>();
  private readonly attached = new Set<PeerLink>();
  private readonly handshaking = new Set<WebSocket>();
  private readonly dialers = new Map<string, PeerDialer>();
  private readonly sources = new Map<number, PeerAddress[]>();
  private readonly delays: Map<string, number>;
  /** Per peer ever linked, kept across its links. */
  readonly traffic = new Map<string, PeerTraffic>();
  private closing = false;
  /** Socket event handlers that threw (each closed its socket instead of reaching the process). */
  faults = 0;

  constructor(
    private readonly o: ResolvedClusterOptions,
    private readonly log: Logger,
    private readonly events: PeerLinksEvents,
  ) {
    this.delays = new Map(Object.entries(o.linkDelays));
  }

  /** Whether links are encrypted (wss, certificates checked both ways). */
  get tls(): boolean {
    return this.o.tls !== undefined;
  }

  /** Starts the cluster port; resolves with the port actually bound. */
  async listen(): Promise<number> {
    const port = this.o.tls ? await this.listenTls() : await this.listenPlain();
    if (!this.o.tls && !isLoopbackHost(this.o.host)) {
      this.log.warn({ host: this.o.host, port }, 'cluster links are plaintext on a non-loopback address: anyone on the path reads the traffic; set cluster TLS (--cluster-tls-key/--cluster-tls-cert/--cluster-tls-ca)');
    }
    return port;
  }

  private listenPlain(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = this.wsServer({ host: this.o.host, port: this.o.port });
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err }, 'cluster port error'));
        this.server = server;
        resolve((server.address() as { port: number }).port);
      });
    });
  }

  private listenTls(): Promise<number> {
    const https = createHttpsServer(listenerTlsOptions(this.o.tls!));
    // A refused certificate ends the connection in the TLS handshake, before any frame.
    https.on('tlsClientError', (err, socket) => this.log.warn({ remote: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message }, 'cluster TLS handshake refused'));
    return new Promise((resolve, reject) => {
      https.once('error', reject);
      https.listen(this.o.port, this.o.host, () => {
        https.off('error', reject);
        https.on('error', (err) => this.log.error({ err }, 'cluster port error'));
        this.tlsServer = https;
        this.server = this.wsServer({ server: https });
        resolve((https.address() as { port: number }).port);
      });
    });
  }

  private wsServer(where: { host: string; port: number } | { server: HttpsServer }): WebSocketServer {
    const server = new WebSocketServer({ ...where, path: PATH, maxPayload: this.o.maxFrameBytes, perMessageDeflate: false });
    server.on('connection', (ws, req) => this.accept(ws, req));
    return server;
  }

  /** Replaces the addresses known from one discovery source; dials new ones, forgets dropped ones. */
  setPeers(source: number, peers: PeerAddress[]): void {
    if (this.closing) return;
    this.sources.set(source, peers.filter((p) => p.nodeId !== this.o.nodeId));
    const wanted = new Map<string, PeerAddress>();
    for (const list of this.sources.values()) for (const p of list) wanted.set(p.nodeId, p);
    for (const [nodeId, dialer] of this.dialers) {
      const p = wanted.get(nodeId);
      if (!p || p.host !== dialer.address.host || p.port !== dialer.address.port) {
        dialer.stop();
        this.dialers.delete(nodeId);
      }
    }
    for (const [nodeId, address] of wanted) {
      if (this.dialers.has(nodeId)) continue;
      const dialer = new PeerDialer(address, {
        dial: (a) => this.dial(a),
        isLinked: (id) => this.active.has(id),
        schedule: new RetrySchedule(exponentialBackoff(this.o.reconnect)),
        stableMs: this.o.reconnect.maxDelayMs,
        log: this.log,
      });
      this.dialers.set(nodeId, dialer);
      dialer.wake();
    }
  }

  get(peerId: string): PeerLink | undefined {
    return this.active.get(peerId);
  }

  all(): PeerLink[] {
    return [...this.active.values()];
  }

  setDelay(peerId: string, delayMs: number): void {
    this.delays.set(peerId, delayMs);
    const link = this.active.get(peerId);
    if (link) link.delayMs = delayMs;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const dialer of this.dialers.values()) dialer.stop();
    for (const ws of this.handshaking) ws.terminate();
    const links = [...this.attached];
    for (const link of links) link.close(LinkClose.GOING_AWAY, 'node stopping');
    await Promise.race([Promise.all(links.map((l) => l.socketClosed)), sleep(CLOSE_GRACE_MS)]);
    for (const link of links) link.terminate();
    const server = this.server;
    if (server) {
      for (const ws of server.clients) ws.terminate();
      await Promise.race([new Promise<void>((resolve) => server.close(() => resolve())), sleep(CLOSE_GRACE_MS)]);
    }
    const https = this.tlsServer;
    if (https) {
      https.closeAllConnections();
      await Promise.race([new Promise<void>((resolve) => https.close(() => resolve())), sleep(CLOSE_GRACE_MS)]);
    }
  }

  private context(remote: string): HandshakeContext {
    return {
      self: this.o.nodeId,
      secret: this.o.secret,
      timeoutMs: this.o.handshakeTimeoutMs,
      log: this.log,
      remote,
      timing: (peerId) => this.timing(peerId),
      fault: (err, from) => {
        this.faults++;
        this.log.error({ err, remote: from }, 'cluster socket handler failed: socket closed');
      },
    };
  }

  private timing(peerId: string): PeerLinkTiming {
    const { heartbeatMs, pingTimeoutMs, linkTimeoutMs, rttAlpha, lossPenaltyMs, maxBufferedBytes } = this.o;
    return { heartbeatMs, pingTimeoutMs, linkTimeoutMs, rttAlpha, lossPenaltyMs, maxBufferedBytes, delayMs: this.delays.get(peerId) ?? 0 };
  }

  private accept(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (this.closing || this.handshaking.size >= MAX_HANDSHAKES) {
      ws.terminate();
      return;
    }
    this.handshaking.add(ws);
    handshakeAsAcceptor(ws, this.context(remote)).then(
      (link) => {
        this.handshaking.delete(ws);
        this.adopt(link);
      },
      () => this.handshaking.delete(ws),
    );
  }

  private dial(address: PeerAddress): Promise<void> {
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    const remote = `${host}:${address.port}`;
    const ws = new WebSocket(`${this.o.tls ? 'wss' : 'ws'}://${remote}${PATH}`, {
      perMessageDeflate: false,
      maxPayload: this.o.maxFrameBytes,
      handshakeTimeout: this.o.handshakeTimeoutMs,
      ...(this.o.tls ? dialerTlsOptions(this.o.tls) : {}),
    });
    this.handshaking.add(ws);
    return new Promise<PeerLink>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => {
        ws.off('error', reject);
        handshakeAsDialer(ws, address.nodeId, this.context(remote)).then(resolve, reject);
      });
    }).then(
      (link) => {
        this.handshaking.delete(ws);
        this.adopt(link);
      },
      (err: unknown) => {
        this.handshaking.delete(ws);
        throw err;
      },
    );
  }

  private adopt(link: PeerLink): void {
    const peerId = link.peerId;
    if (link.isClosed) {
      // A frame that arrived with the handshake's last one closed the link before its hand-over:
      // it never becomes active, and its dialer tries again.
      this.dialers.get(peerId)?.linkLost();
      return;
    }
    this.attached.add(link);
    link.attach({
      frame: (l, frame) => this.events.frame(l, frame),
      measured: (l) => {
        if (this.active.get(l.peerId) === l) this.events.measured(l);
      },
      closed: (l, code, reason) => this.onClosed(l, code, reason),
    });
    const current = this.active.get(peerId);
    if (this.closing || (current && !this.prefer(link, current))) {
      link.close(this.closing ? LinkClose.GOING_AWAY : LinkClose.DUPLICATE, 'duplicate link');
      return;
    }
    this.active.set(peerId, link);
    link.traffic = this.trafficOf(peerId);
    link.traffic.ups++;
    if (current) current.close(LinkClose.DUPLICATE, 'duplicate link');
    else this.log.info({ peer: peerId, remote: link.info.remote, dialer: link.info.dialerId }, 'cluster link up');
    this.events.linkUp(link, !current);
  }

  private trafficOf(peerId: string): PeerTraffic {
    let traffic = this.traffic.get(peerId);
    if (!traffic) this.traffic.set(peerId, (traffic = { ups: 0, downs: 0, forwarded: 0 }));
    return traffic;
  }

  /** Of two links to one peer, both ends keep the one dialled by the smaller id; else the newer. */
  private prefer(candidate: PeerLink, current: PeerLink): boolean {
    const dialer = this.o.nodeId < candidate.peerId ? this.o.nodeId : candidate.peerId;
    const c = candidate.info.dialerId === dialer;
    return c !== (current.info.dialerId === dialer) ? c : true;
  }

  private onClosed(link: PeerLink, code: number, reason: string): void {
    this.attached.delete(link);
    this.events.linkClosed(link);
    if (this.active.get(link.peerId) !== link) return;
    this.active.delete(link.peerId);
    this.trafficOf(link.peerId).downs++;
    this.log.info({ peer: link.peerId, code, reason }, 'cluster link down');
    this.events.linkDown(link.peerId);
    this.dialers.get(link.peerId)?.linkLost();
  }
}
