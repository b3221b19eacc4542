import { Buffer } from 'node:buffer';
import { CloseCode, type MessageTally } from '../protocol/index.js';
import { turnScheduler } from '../../actors/turn-scheduler.js';
import { SocketConnection, newTransportStats, type TransportStats } from './socket-connection.js';
import { loadUws, type TemplatedApp, type WebSocketBehavior, type us_listen_socket } from './uws.js';

/** What the layer above is told of its sockets; `Slot` is the state it keeps on each. */
export interface SocketEvents<Slot> {
  /** The state of a new socket, carried by it from before `onOpen` to after `onClose`. */
  newSlot(): Slot;
  onOpen(conn: SocketConnection<Slot>): void;
  /** `bytes` is only valid during this call: decode (copying) before returning. */
  onMessage(conn: SocketConnection<Slot>, bytes: Uint8Array, isBinary: boolean): void;
  onClose(conn: SocketConnection<Slot>, code: number, reason: string): void;
  /** A handler above threw while handling this socket's message; the socket is being closed. */
  onFault(conn: SocketConnection<Slot>, err: unknown): void;
}

/** Per-socket user data carried by uWS: the connection, of one of the two routes. */
interface SocketData<Slot, MqttSlot> {
  /** Value of the configured identity header at upgrade ('' when absent). */
  identity: string;
  /** Upgraded on the MQTT-over-WebSocket path. */
  mqtt: boolean;
  device?: SocketConnection<Slot>;
  mqttClient?: SocketConnection<MqttSlot>;
}

export interface HttpReply {
  /** Status line, e.g. '200 OK'. */
  status: string;
  contentType: string;
  body: string;
}

/** A response that stays open and carries chunks as they come (server-sent events). */
export interface HttpStreamReply {
  status: string;
  contentType: string;
  /** Starts producing; `write` sends one chunk. Returns what stops it when the client goes away. */
  start(write: (chunk: string) => void): () => void;
}

export interface HttpRequestInfo {
  /** Values of the path's `:name` parameters, in order, %-decoded (a malformed escape is answered 400 before any route runs). */
  params: string[];
  /** Request headers, lower-case names. */
  headers: Record<string, string>;
}

export interface HttpRoute {
  method: 'get' | 'post';
  /** uWS pattern, e.g. '/admin/devices/:id/kick'. */
  path: string;
  handle(request: HttpRequestInfo): HttpReply | HttpStreamReply | Promise<HttpReply | HttpStreamReply>;
}

export interface WsServerOptions<MqttSlot> {
  host: string;
  port: number;
  path: string;
  /** Frames larger than this close the socket at the uWS level (the gateway answers smaller oversize frames). */
  maxPayloadBytes: number;
  softBackpressureBytes: number;
  hardBackpressureBytes: number;
  allowUwsFallback: boolean;
  tls?: { keyFile: string; certFile: string; caFile?: string; passphrase?: string };
  /** Request header copied onto each connection (identity asserted by a TLS-terminating proxy). */
  identityHeader?: string;
  routes?: HttpRoute[];
  /** MQTT over WebSocket (subprotocol `mqtt`) on this port at `path`, with its own events. */
  mqtt?: { path: string; events: SocketEvents<MqttSlot> };
  /** Where deliveries to this port's relaymesh devices are counted. */
  tally: MessageTally;
}

export interface WsServer<Slot> {
  readonly port: number;
  readonly connections: ReadonlySet<SocketConnection<Slot>>;
  readonly stats: TransportStats;
  /** Stops listening; open sockets stay until closed. */
  stopListening(): void;
  /** Closes every open socket with `code`. */
  closeAll(code: CloseCode, reason: string): void;
}

/** Starts the uWebSockets.js server: sockets in, SocketConnections out. */
export async function startWsServer<Slot, MqttSlot>(options: WsServerOptions<MqttSlot>, events: SocketEvents<Slot>): Promise<WsServer<Slot>> {
  const uWS = loadUws(options.allowUwsFallback);
  const app: TemplatedApp = options.tls
    ? uWS.SSLApp({
        key_file_name: options.tls.keyFile,
        cert_file_name: options.tls.certFile,
        ...(options.tls.caFile ? { ca_file_name: options.tls.caFile } : {}),
        ...(options.tls.passphrase ? { passphrase: options.tls.passphrase } : {}),
      })
    : uWS.App();
  const connections = new Set<SocketConnection<Slot>>();
  const stats = newTransportStats();
  let nextId = 1;

  // One behaviour for both routes: an MQTT socket is marked at upgrade and reported to the MQTT events.
  const behavior: WebSocketBehavior<SocketData<Slot, MqttSlot>> = {
    maxPayloadLength: options.maxPayloadBytes,
    // Backpressure is judged by SocketConnection; uWS must not drop frames (or the close frame) before that.
    maxBackpressure: options.hardBackpressureBytes * 2 + 16 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    // Liveness is tracked by the gateway's heartbeat sweep with millisecond resolution.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    upgrade: (res, req, context) => {
      const identity = options.identityHeader ? req.getHeader(options.identityHeader.toLowerCase()) : '';
      const mqtt = options.mqtt !== undefined && req.getUrl() === options.mqtt.path;
      const offered = req.getHeader('sec-websocket-protocol');
      res.upgrade<SocketData<Slot, MqttSlot>>(
        { identity, mqtt },
        req.getHeader('sec-websocket-key'),
        mqtt && offered.split(',').some((p) => p.trim() === 'mqtt') ? 'mqtt' : offered,
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      const data = ws.getUserData();
      const remote = Buffer.from(ws.getRemoteAddressAsText()).toString();
      const limits = { softLimitBytes: options.softBackpressureBytes, hardLimitBytes: options.hardBackpressureBytes };
      const identity = data.identity || undefined;
      stats.opened++;
      if (data.mqtt) {
        const mqttEvents = options.mqtt!.events;
        const conn = new SocketConnection(ws, turnScheduler, limits, stats, options.tally, remote, nextId++, mqttEvents.newSlot(), identity);
        data.mqttClient = conn;
        mqttEvents.onOpen(conn);
        return;
      }
      const conn = new SocketConnection(ws, turnScheduler, limits, stats, options.tally, remote, nextId++, events.newSlot(), identity);
      data.device = conn;
      // MQTT sockets have their own liveness (keep-alive): `connections` are the gateway's.
      connections.add(conn);
      events.onOpen(conn);
    },
    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      if (data.mqttClient) deliver(data.mqttClient, options.mqtt!.events, message, isBinary);
      else if (data.device) deliver(data.device, events, message, isBinary);
    },
    close: (ws, code, message) => {
      const data = ws.getUserData();
      const reason = Buffer.from(message).toString();
      if (data.mqttClient) closed(data.mqttClient, options.mqtt!.events, code, reason);
      else if (data.device) {
        connections.delete(data.device);
        closed(data.device, events, code, reason);
      }
    },
  };
  function deliver<S>(conn: SocketConnection<S>, handler: SocketEvents<S>, message: ArrayBuffer, isBinary: boolean): void {
    if (conn.closed) return;
    conn.lastSeenAt = Date.now();
    stats.framesIn++;
    stats.bytesIn += message.byteLength;
    try {
      handler.onMessage(conn, new Uint8Array(message), isBinary);
    } catch (err) {
      // Nothing a device sends may reach the process as an exception: that socket goes instead.
      stats.faults++;
      handler.onFault(conn, err);
      conn.close(CloseCode.INTERNAL_ERROR, 'internal error');
    }
  }
  function closed<S>(conn: SocketConnection<S>, handler: SocketEvents<S>, code: number, reason: string): void {
    conn.markClosed();
    stats.closed++;
    handler.onClose(conn, code, reason);
  }
  app.ws<SocketData<Slot, MqttSlot>>(options.path, behavior);
  if (options.mqtt) app.ws<SocketData<Slot, MqttSlot>>(options.mqtt.path, behavior);

  for (const route of options.routes ?? []) {
    const paramCount = route.path.split('/').filter((part) => part.startsWith(':')).length;
    app[route.method](route.path, (res, req) => {
      let aborted = false;
      let stop: (() => void) | undefined;
      res.onAborted(() => {
        aborted = true;
        stop?.();
      });
      // uWS requests live only until the handler returns: copy what the route needs now.
      const headers: Record<string, string> = {};
      req.forEach((name, value) => (headers[name] = value));
      const params = decodedParams(Array.from({ length: paramCount }, (_, i) => req.getParameter(i) ?? ''));
      if (!params) {
        res.cork(() => res.writeStatus('400 Bad Request').end('malformed %-escape in the path'));
        return;
      }
      void Promise.resolve()
        .then(() => route.handle({ params, headers }))
        .then(
        (reply) => {
          if (aborted) return;
          if ('start' in reply) {
            res.cork(() => res.writeStatus(reply.status).writeHeader('content-type', reply.contentType).writeHeader('cache-control', 'no-store'));
            stop = reply.start((chunk) => {
              if (!aborted) res.cork(() => res.write(chunk));
            });
            return;
          }
          res.cork(() => res.writeStatus(reply.status).writeHeader('content-type', reply.contentType).end(reply.body));
        },
        (err: Error) => {
          if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end(err.message));
        },
      );
    });
  }
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end('not found');
  });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`cannot listen on ${options.host}:${options.port} (in use, or not an address of this machine)`));
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as never);
  let listening = true;

  return {
    port,
    connections,
    stats,
    stopListening() {
      if (!listening) return;
      listening = false;
      uWS.us_listen_socket_close(listenSocket);
    },
    closeAll(code, reason) {
      for (const conn of [...connections]) conn.close(code, reason);
    },
  };
}

/** Path parameters %-decoded once for every route, or undefined when an escape is malformed. */
function decodedParams(raw: string[]): string[] | undefined {
  try {
    return raw.map((param) => decodeURIComponent(param));
  } catch {
    return undefined;
  }
}
