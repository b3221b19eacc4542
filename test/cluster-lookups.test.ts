import { pino } from 'pino';
import t from 'tap';
import { DeviceDirectory, type DirectoryMessage } from '../src/cluster/directory.js';
import { LocalCluster, waitFor } from '../src/cluster/index.js';
import { deviceHomedOn } from './helpers/homes.js';

/** Look-ups must not stall on a home that died: fail over to the next candidate on the ring. */

const NEVER = 600_000;

function directory(links: Set<string>) {
  const questions: { to: string; q: number }[] = [];
  const dir = new DeviceDirectory({
    self: 'a',
    virtualNodes: 128,
    lookupTimeoutMs: NEVER,
    send: (to: string, m: DirectoryMessage) => {
      if (m.t === 'get') questions.push({ to, q: m.q });
      return links.has(to);
    },
  });
  dir.membershipChanged(['a', 'b', 'c'], ['b', 'c']);
  return { dir, questions };
}

t.test('a look-up asks the next node on the ring at once when no link leads to the home', async (t) => {
  const device = deviceHomedOn(['a', 'b', 'c'], 'b', 'c');
  const { dir, questions } = directory(new Set(['c']));
  const located = dir.locate(device);
  t.same(questions.map((x) => x.to), ['b', 'c'], 'b had no link: c, the home once b leaves, was asked');
  dir.receive('c', { t: 'loc', q: questions[1]!.q, nodeId: 'c' });
  t.equal(await located, 'c');
});

t.test('a look-up still waiting when the routes change is asked again, at the new home', async (t) => {
  const device = deviceHomedOn(['a', 'b', 'c'], 'b', 'c');
  const { dir, questions } = directory(new Set(['b', 'c']));
  const located = dir.locate(device);
  t.same(questions.map((x) => x.to), ['b']);
  dir.membershipChanged(['a', 'c'], []);
  dir.routesChanged();
  t.same(questions.map((x) => x.to), ['b', 'c']);
  dir.receive('c', { t: 'loc', q: questions[1]!.q, nodeId: 'c' });
  t.equal(await located, 'c');
  dir.receive('b', { t: 'loc', q: questions[0]!.q, nodeId: 'b' });
  t.pass('a late answer from the old home is ignored');
});

t.test('a look-up in flight when the home stops is answered by the next home, not after the look-up timeout', async (t) => {
  const cluster = await LocalCluster.start({ nodes: ['a', 'b', 'c'], links: ['a-b', 'b-c', 'a-c'] }, { log: pino({ level: 'silent' }), ackTimeoutMs: NEVER });
  t.teardown(() => cluster.close());
  await cluster.waitConverged(10_000);
  const [a, c] = [cluster.node('a'), cluster.node('c')];
  const device = deviceHomedOn(['a', 'b', 'c'], 'b', 'c');
  c.announceLocation(device);
  await waitFor(() => cluster.node('b').locationHere(device) === 'c', 60_000, 'the home b to learn where the device is');
  await waitFor(() => a.nextHop('b') === 'b', 60_000, 'a to reach b directly');

  // The question to b is held back on a's link, so it is in flight when b stops and never answered.
  a.setLinkDelay('b', 60_000);
  const located = a.locate(device);
  await cluster.stop('b');
  let answer: string | undefined | Error = new Error('no answer yet');
  void located.then((n) => (answer = n), (err: Error) => (answer = err));
  await waitFor(() => !(answer instanceof Error && answer.message === 'no answer yet'), 20_000, 'the look-up to be answered (its timeout is 10 minutes)');
  t.equal(answer, 'c', 'c, the home once b left, had the entry re-announced and answered');
});
