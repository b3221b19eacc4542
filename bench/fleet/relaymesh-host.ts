/**
 * Hosts one relaymesh broker (createBroker) in a process of its own, so that its CPU time and
 * memory are measured apart from the simulator, and reports its event-loop delay.
 */
import { createBroker, type Broker } from '../../src/index.js';
import { serveCommands } from '../fanout/ipc.js';
import { LoopLag } from './loop-lag.js';
import type { BrokerHostCommands } from './messages.js';

let broker: Broker | undefined;
const windowLag = new LoopLag();
const phaseLag = new LoopLag();

serveCommands<BrokerHostCommands>({
  async start({ host, dataDir, heartbeatMs }) {
    if (broker) throw new Error('a broker is already running in this process');
    broker = await createBroker({ host, port: 0, dataDir, anonymous: true, logLevel: 'warn', heartbeatMs, mqtt: { path: '/mqtt', port: 0 } });
    windowLag.take();
    phaseLag.take();
    return { port: broker.port, mqttTcpPort: broker.mqttPort!, pid: process.pid };
  },
  sample({ newPhase }) {
    const window = windowLag.take();
    const phase = newPhase ? phaseLag.take() : phaseLag.peek();
    return { window, phase, connections: broker?.connectedDevices ?? 0 };
  },
  stop() {
    // Exit once the reply is out: the kernel closes every socket from the broker's side.
    setTimeout(() => process.exit(0), 20);
    return { ok: true };
  },
});
