import t from 'tap';
import { LinkCost, costChangedMuch } from '../src/cluster/link-cost.js';
import { LinkStateDb, type Lsa } from '../src/cluster/link-state-db.js';

const lsa = (origin: string, seq: number, ...neighbours: [string, number][]): Lsa => ({ origin, seq, neighbours });
const edges = (db: LinkStateDb): string[] => [...db.graph()].flatMap(([from, out]) => [...out].map(([to, c]) => `${from}>${to}:${c}`)).sort();

t.test('a newer sequence replaces the held advertisement; same and older ones are ignored', async (t) => {
  const db = new LinkStateDb();
  t.equal(db.accept(lsa('a', 5, ['b', 1]), 0), 'newer');
  t.equal(db.accept(lsa('a', 5, ['b', 9]), 0), 'same');
  t.equal(db.accept(lsa('a', 4, ['b', 9]), 0), 'older');
  t.same(db.get('a')?.neighbours, [['b', 1]]);
  t.equal(db.accept(lsa('a', 6, ['b', 2]), 0), 'newer');
  t.same(db.get('a')?.neighbours, [['b', 2]]);
});

t.test('the graph holds only links that both ends advertise, each direction with its own cost', async (t) => {
  const db = new LinkStateDb();
  db.accept(lsa('a', 1, ['b', 1], ['c', 4]), 0);
  db.accept(lsa('b', 1, ['a', 2]), 0);
  db.accept(lsa('c', 1), 0);
  t.same(edges(db), ['a>b:1', 'b>a:2'], 'a-c is one-sided (c does not list a): no edge');
});

t.test('a dead node keeps its advertisement but loses its links once its neighbours drop it', async (t) => {
  const db = new LinkStateDb();
  db.accept(lsa('a', 1, ['b', 1]), 0);
  db.accept(lsa('b', 1, ['a', 1], ['c', 1]), 0);
  db.accept(lsa('c', 1, ['b', 1]), 0);
  db.accept(lsa('a', 2), 0);
  db.accept(lsa('c', 2), 0);
  t.same(edges(db), []);
});

t.test('origins not refreshed within the timeout age out, except this node', async (t) => {
  const db = new LinkStateDb();
  db.accept(lsa('self', 1), 0);
  db.accept(lsa('old', 1), 0);
  db.accept(lsa('fresh', 1), 900);
  t.same(db.expire(1500, 1000, 'self'), ['old']);
  t.same(db.all().map((l) => l.origin).sort(), ['fresh', 'self']);
  t.equal(db.ageMs('fresh', 1500), 600);
});

t.test('the first RTT sample is the cost; later ones are smoothed (EWMA)', async (t) => {
  const cost = new LinkCost(0.25, 100);
  t.notOk(cost.ready, 'no cost before a sample');
  cost.sample(8);
  t.ok(cost.ready);
  t.equal(cost.value, 8);
  cost.sample(16);
  t.equal(cost.value, 10, '8 + 0.25 × (16 − 8)');
});

t.test('lost pings add a penalty that fades as pongs come back', async (t) => {
  const cost = new LinkCost(0.5, 100);
  cost.sample(2);
  cost.lost();
  t.equal(cost.lossRate, 0.5);
  t.equal(cost.value, 52, '2 ms + 0.5 × 100 ms');
  cost.sample(2);
  t.equal(cost.value, 27);
});

t.test('costs are rounded to 0.01 ms and never zero', async (t) => {
  const cost = new LinkCost(1, 0);
  cost.sample(0.123456);
  t.equal(cost.value, 0.12);
  cost.sample(0);
  t.equal(cost.value, 0.01);
});

t.test('only large cost changes are re-advertised at once', async (t) => {
  t.notOk(costChangedMuch(0.3, 0.9), 'sub-millisecond jitter waits for the refresh');
  t.ok(costChangedMuch(0.3, 40));
  t.notOk(costChangedMuch(40, 45));
  t.ok(costChangedMuch(40, 60));
});
