/**
 * Hosts one Aedes broker behind a WebSocket listener, the way Aedes documents it (docs/Examples.md,
 * "MQTT server over WebSocket": a `ws` WebSocketServer on an http server, each socket handed to
 * aedes.handle as a stream), and behind a TCP listener (`net.createServer(aedes.handle)`, its
 * README), in a process of its own so its CPU and memory are its own.
 */
import { createServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { serveCommands } from '../fanout/ipc.js';
import { LoopLag } from './loop-lag.js';
import type { BrokerHostCommands } from './messages.js';

let aedes: Aedes | undefined;
const windowLag = new LoopLag();
const phaseLag = new LoopLag();

/** Listens on a free port of `host`; resolves with it. */
function listen(server: Server | ReturnType<typeof createServer>, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

serveCommands<BrokerHostCommands>({
  async start({ host }) {
    if (aedes) throw new Error('a broker is already running in this process');
    const broker = await Aedes.createBroker();
    aedes = broker;
    const httpServer = createServer();
    const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });
    wss.on('connection', (websocket, req) => {
      const stream = createWebSocketStream(websocket);
      // A reset socket surfaces as a stream error; Aedes sees the close on its own.
      stream.on('error', () => undefined);
      broker.handle(stream, req);
    });
    const port = await listen(httpServer, host);
    const mqttTcpPort = await listen(createTcpServer(broker.handle), host);
    windowLag.take();
    phaseLag.take();
    return { port, mqttTcpPort, pid: process.pid };
  },
  sample({ newPhase }) {
    const window = windowLag.take();
    const phase = newPhase ? phaseLag.take() : phaseLag.peek();
    return { window, phase, connections: aedes?.connectedClients ?? 0 };
  },
  stop() {
    setTimeout(() => process.exit(0), 20);
    return { ok: true };
  },
});
