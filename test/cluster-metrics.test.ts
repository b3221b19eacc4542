import t from 'tap';
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
