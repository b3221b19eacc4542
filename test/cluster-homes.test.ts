import { pino } from 'pino';
import t from 'tap';
import { DeviceDirectory } from '../src/cluster/directory.js';
import { HashRing, LocalCluster, waitFor } from '../src/cluster/index.js';

const NODES = ['a', 'b', 'c', 'd', 'e'];
const SPEC = { nodes: NODES, links: ['a-b', 'b-c', 'c-d', 'd-e', 'e-a', 'a-c'] };
const DEVICES = Array.from({ length: 10_000 }, (_, i) => `device-${i}`);

const cluster = await LocalCluster.start(SPEC, { log: pino({ level: 'silent' }) });
t.teardown(() => cluster.close());
await cluster.waitConverged(10_000);

t.test('every node computes the same home for a device, among live nodes only', async (t) => {
  const sample = DEVICES.slice(0, 500);
  const homesAt = (id: string) => sample.map((d) => cluster.node(id).homeOf(d));
  for (const id of NODES.slice(1)) t.same(homesAt(id), homesAt('a'), `${id} agrees with a`);
  t.same(new Set(homesAt('a')).size, 5, 'all five nodes are homes');
});

t.test('adding a 5th node moves about 1/5 of 10,000 device homes, all of them to the new node', async (t) => {
  await cluster.stop('e');
  await cluster.waitConverged(5000);
  const a = cluster.node('a');
  const before = DEVICES.map((d) => a.homeOf(d));
  t.notOk(before.includes('e'), 'no device is homed on a node that is down');

  await cluster.restart('e');
  await cluster.waitConverged(5000);
  const after = DEVICES.map((d) => a.homeOf(d));
  const moved = after.filter((home, i) => home !== before[i]);
  const fraction = moved.length / DEVICES.length;
  t.comment(`moved ${moved.length} of ${DEVICES.length} device homes: ${(fraction * 100).toFixed(1)}% (ideal 20%)`);
  t.ok(fraction > 0.15 && fraction < 0.25, `fraction ${fraction.toFixed(3)} within 0.15..0.25`);
  t.ok(moved.every((home) => home === 'e'), 'only to the new node');
});

t.test('the hash ring alone: 4 → 5 members moves ~1/5 of the keys', async (t) => {
  const ring = new HashRing<string>(['a', 'b', 'c', 'd']);
  const before = DEVICES.map((d) => ring.locate(d));
  ring.add('e');
  const fraction = DEVICES.filter((d, i) => ring.locate(d) !== before[i]).length / DEVICES.length;
  t.comment(`hash ring: ${(fraction * 100).toFixed(1)}% moved`);
  t.ok(fraction > 0.15 && fraction < 0.25);
  t.same(ring.members().sort(), ['a', 'b', 'c', 'd', 'e']);
});

t.test('any node can ask a device’s home where the device is connected', async (t) => {
  const device = DEVICES.find((d) => cluster.node('a').homeOf(d) === 'd')!;
  cluster.node('b').announceLocation(device);
  await waitFor(() => cluster.node('d').locationHere(device) === 'b', 60_000, 'the home to learn it');
  for (const asker of NODES) t.equal(await cluster.node(asker).locate(device), 'b', `asked from ${asker}`);
  cluster.node('b').forgetLocation(device);
  await waitFor(() => cluster.node('d').locationHere(device) === undefined, 60_000, 'the home to forget it');
  t.equal(await cluster.node('a').locate(device), undefined, 'not connected anywhere: use the home inbox');
});

t.test('a late goodbye from the old node does not erase the device’s new location', async (t) => {
  const device = DEVICES.find((d) => cluster.node('a').homeOf(d) === 'c')!;
  cluster.node('b').announceLocation(device);
  await new Promise((r) => setTimeout(r, 5)); // the device reconnects to e a little later
  cluster.node('e').announceLocation(device);
  await waitFor(() => cluster.node('c').locationHere(device) === 'e', 60_000, 'the takeover');
  cluster.node('b').forgetLocation(device);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(await cluster.node('a').locate(device), 'e');
});

t.test('when a node goes down, homes forget its devices and re-homed devices are re-announced', async (t) => {
  const homedOnE = DEVICES.find((d) => cluster.node('a').homeOf(d) === 'e')!;
  const onE = DEVICES.find((d) => cluster.node('a').homeOf(d) === 'b')!;
  cluster.node('c').announceLocation(homedOnE);
  cluster.node('e').announceLocation(onE);
  await waitFor(() => cluster.node('e').locationHere(homedOnE) === 'c' && cluster.node('b').locationHere(onE) === 'e', 60_000, 'both entries');

  await cluster.stop('e');
  await cluster.waitConverged(5000);
  const newHome = cluster.node('a').homeOf(homedOnE);
  t.not(newHome, 'e');
  await waitFor(() => cluster.node(newHome).locationHere(homedOnE) === 'c', 60_000, 'c to re-announce to the new home');
  t.equal(cluster.node('b').locationHere(onE), undefined, 'the device on e is no longer located there');
  t.equal(await cluster.node('d').locate(homedOnE), 'c');
});

t.test('a home keeps the newest announcement of a device, whatever order they arrive in', async (t) => {
  const home = new DeviceDirectory({ self: 'h', virtualNodes: 16, send: () => true, lookupTimeoutMs: 100 });
  home.receive('e', { t: 'set', entries: [['car-1', 'e', 2000]] });
  home.receive('b', { t: 'set', entries: [['car-1', 'b', 1000]] });
  t.equal(home.locationHere('car-1'), 'e', 'the older announcement from b arrived late and lost');
  home.receive('b', { t: 'clear', deviceId: 'car-1', nodeId: 'b' });
  t.equal(home.locationHere('car-1'), 'e', "b's goodbye does not touch e's entry");
  home.receive('e', { t: 'clear', deviceId: 'car-1', nodeId: 'e' });
  t.equal(home.locationHere('car-1'), undefined);
});
