import type { TopologyKind, TopologyPlan } from './messages.js';

/**
 * The topologies the bench knows, by name:
 *   flat             one actor loops over every socket ({ branching: 1, leafSize: 1e9 })
 *   tree-b<B>        branching B, leaf size from --leaf-size
 *   tree-b<B>-l<L>   branching B, leaf size L
 *   per-shard        16 leaves of ceil(N/16) sockets under one root
 *   uws-native       bare uWS: ws.subscribe + app.publish (the baseline)
 *   cork-ceiling     bare uWS: each tick's batch sent to each socket under one cork (the ceiling)
 *   relaymesh-mqtt   relaymesh's MQTT listener, driven like the MQTT peers (the apples-to-apples row)
 *   mosquitto, aedes other brokers over MQTT on WebSocket (device-published only)
 */
export interface TopologySpec {
  name: string;
  kind: TopologyKind;
  shape?: (fleetSize: number) => { branching: number; leafSize: number };
}

export const DEFAULT_TOPOLOGIES = ['flat', 'tree-b2', 'tree-b4', 'tree-b16', 'tree-b16-l256', 'tree-b64', 'per-shard', 'uws-native', 'cork-ceiling', 'relaymesh-mqtt', 'mosquitto', 'aedes'];
export const QUICK_TOPOLOGIES = ['flat', 'tree-b16-l256', 'uws-native', 'cork-ceiling', 'relaymesh-mqtt', 'mosquitto', 'aedes'];

export function parseTopology(name: string, defaultLeafSize: number): TopologySpec {
  switch (name) {
    case 'flat':
      return { name, kind: 'broker', shape: () => ({ branching: 1, leafSize: 1e9 }) };
    case 'per-shard':
      return { name, kind: 'broker', shape: (n) => ({ branching: 16, leafSize: Math.max(1, Math.ceil(n / 16)) }) };
    case 'uws-native':
    case 'cork-ceiling':
    case 'relaymesh-mqtt':
    case 'mosquitto':
    case 'aedes':
      return { name, kind: name };
  }
  const tree = /^tree-b(\d+)(?:-l(\d+))?$/.exec(name);
  if (tree) {
    const branching = Number(tree[1]);
    const leafSize = tree[2] !== undefined ? Number(tree[2]) : defaultLeafSize;
    if (branching < 1 || branching > 1024 || leafSize < 1) throw new Error(`topology ${name}: branching must be 1..1024 and leaf size >= 1`);
    return { name, kind: 'broker', shape: () => ({ branching, leafSize }) };
  }
  throw new Error(`unknown topology ${JSON.stringify(name)} (flat, tree-b<B>, tree-b<B>-l<L>, per-shard, uws-native, cork-ceiling, relaymesh-mqtt, mosquitto, aedes)`);
}

export function planFor(spec: TopologySpec, fleetSize: number): TopologyPlan {
  return { name: spec.name, kind: spec.kind, ...(spec.shape ? { fanout: spec.shape(fleetSize) } : {}) };
}

/** Leaves and inner actors of a FanoutTree of this shape holding `n` members (for the report). */
export function treeSize(shape: { branching: number; leafSize: number }, n: number): { leaves: number; height: number } {
  const leaves = Math.max(1, Math.ceil(n / shape.leafSize));
  let height = 1;
  for (let reach = shape.branching; reach < leaves; reach *= shape.branching) {
    height++;
    if (shape.branching === 1) break;
  }
  return { leaves, height };
}
