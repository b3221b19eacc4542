import { pino } from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { ClusterNode, LOCAL_TIMING } from '../src/cluster/index.js';
import { registerClusterMetrics } from '../src/broker/ops/cluster-metrics.js';
import { FrameKind } from '../src/index.js';
import { freePort, startTestBroker } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';
import { until } from './helpers/until.js';

const SECRET = 'metrics-cluster-secret-0123456789';

/** One sample of a scrape, e.g. value(text, 'relaymesh_cluster_link_up{peer="b"}'); undefined when absent. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('/metrics shows links, routing and forwarding of the cluster, totals as counters', async (t) => {
  const [pa, pb] = [await freePort(), await freePort()];
  const a = await startTestBroker(t, { nodeId: 'a', cluster: { host: '127.0.0.1', port: pa, secret: SECRET, peers: [`b@127.0.0.1:${pb}`] } });
  const b = await startTestBroker(t, { nodeId: 'b', cluster: { host: '127.0.0.1', port: pb, secret: SECRET, peers: [] } });
  const scrape = async () => (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
  await until('a to measure its link to b', async () => value(await scrape(), 'relaymesh_cluster_link_rtt_seconds{peer="b"}') !== undefined);

  const target = await RawClient.connect(b.url, 'meter-1');
  const sender = await RawClient.connect(a.url, 'reader');
  t.teardown(() => [target, sender].forEach((c) => c.close()));
  await until('a QoS 1 SEND to reach meter-1 on b', async () => {
    const ok = await sender.request({ kind: FrameKind.SEND, seq: sender.nextSeq(), target: 'meter-1', payload: Buffer.from('read'), qos: 1 });
    if (ok.kind !== FrameKind.OK) return false;
    return (await target.waitFor((f) => f.kind === FrameKind.MSG, 1000).catch(() => undefined)) !== undefined;
  });

  const text = await scrape();
  t.equal(value(text, 'relaymesh_cluster_link_up{peer="b"}'), 1);
  t.ok(value(text, 'relaymesh_cluster_link_rtt_seconds{peer="b"}')! > 0, 'RTT measured');
  t.ok(value(text, 'relaymesh_cluster_link_cost{peer="b"}')! > 0, 'cost advertised');
  t.equal(value(text, 'relaymesh_cluster_nodes_live'), 2);
  t.equal(value(text, 'relaymesh_cluster_routes'), 1);
  t.equal(value(text, 'relaymesh_cluster_forward_queue'), 0);
  t.equal(value(text, 'relaymesh_cluster_forward_queue_by_dest{dest="b"}'), 0, 'b was queued for once: its series stays, at 0');
  t.equal(value(text, 'relaymesh_cluster_forward_queue_oldest_seconds{dest="b"}'), 0);
  t.ok(value(text, 'relaymesh_cluster_forwarded_total{next_hop="b"}')! >= 1, 'the SEND went to b as next hop');
  t.ok(value(text, 'relaymesh_cluster_lsa_originated_total')! >= 1);
  t.ok(value(text, 'relaymesh_cluster_lsa_flooded_total')! >= 1, "b's advertisement was accepted");
  t.ok(value(text, 'relaymesh_cluster_route_computations_total')! >= 1);
  for (const name of ['forwarded', 'lsa_originated', 'lsa_flooded', 'route_computations', 'route_changes', 'link_ups', 'link_downs']) {
    t.match(text, new RegExp(`# TYPE relaymesh_cluster_${name}_total counter`), `${name} is a counter`);
  }

  const computations = value(text, 'relaymesh_cluster_route_computations_total')!;
  await b.close();
  await until('the link to b to be reported down', async () => value(await scrape(), 'relaymesh_cluster_link_up{peer="b"}') === 0);
  const after = await scrape();
  t.equal(value(after, 'relaymesh_cluster_link_downs_total{peer="b"}'), 1);
  t.equal(value(after, 'relaymesh_cluster_routes'), 0);
  t.ok(value(after, 'relaymesh_cluster_route_computations_total')! > computations, 'routes recomputed');
  t.equal(value(after, 'relaymesh_cluster_link_rtt_seconds{peer="b"}'), undefined, 'no RTT for a link that is down');
});

t.test('the forward queue shows, per destination, how many payloads wait and for how long; 0 once delivered', async (t) => {
  const log = pino({ level: 'silent' });
  const cPort = await freePort();
  const a = await ClusterNode.start<string>({ ...LOCAL_TIMING, nodeId: 'a', host: '127.0.0.1', port: 0, secret: SECRET, log, seeds: [`c@127.0.0.1:${cPort}`] });
  t.teardown(() => a.close());
  const registry = new Registry();
  registerClusterMetrics(registry, () => a.stats());
  const scrape = () => registry.metrics();

  // c is not running: the payload waits in a's forward queue for a route.
  const delivered = a.sendTo('c', 'reading-1', { reliable: true });
  await until('the payload for c to have waited a while', async () => (value(await scrape(), 'relaymesh_cluster_forward_queue_oldest_seconds{dest="c"}') ?? 0) > 0, 60_000);
  t.equal(value(await scrape(), 'relaymesh_cluster_forward_queue_by_dest{dest="c"}'), 1);
  const before = value(await scrape(), 'relaymesh_cluster_forward_queue_oldest_seconds{dest="c"}')!;
  await until('the age to grow while c stays unreachable', async () => value(await scrape(), 'relaymesh_cluster_forward_queue_oldest_seconds{dest="c"}')! > before, 60_000);

  const received: string[] = [];
  const c = await ClusterNode.start<string>({ ...LOCAL_TIMING, nodeId: 'c', host: '127.0.0.1', port: cPort, secret: SECRET, log, onMessage: (m) => void received.push(m.payload) });
  t.teardown(() => c.close());
  await delivered;
  t.same(received, ['reading-1']);
  const after = await scrape();
  t.equal(value(after, 'relaymesh_cluster_forward_queue_by_dest{dest="c"}'), 0);
  t.equal(value(after, 'relaymesh_cluster_forward_queue_oldest_seconds{dest="c"}'), 0, 'nothing waits for c any more');
  t.equal(value(after, 'relaymesh_cluster_forwarded_total{next_hop="c"}'), 1);
});
