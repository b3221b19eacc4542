import t from 'tap';
import { OPEN_FILES_PER_PROCESS, capacityPlan, checkModel, fitCosts, heldOutErrorPct, plan, predictCores, type CostFit, type CostSample } from './capacity-model.js';
import { leastSquares, nonNegativeLeastSquares } from './least-squares.js';

/** A broker that costs exactly 0.05 cores + 2 µs/s per vehicle + 20 µs per message, 100 MB + 10 KB per vehicle. */
function exactSample(vehicles: number, messagesPerSecond: number): CostSample {
  return {
    label: `${vehicles}`,
    vehicles,
    messagesPerSecond,
    recordsPerSecond: messagesPerSecond / 2,
    cores: 0.05 + (vehicles * 2 + messagesPerSecond * 20) / 1e6,
    rssBytes: 100 * 2 ** 20 + vehicles * 10_240,
    pass: true,
  };
}

/** Idle and loaded at two sizes: leaving either out still separates vehicles from messages. */
const EXACT = [exactSample(0, 0), exactSample(500, 50), exactSample(500, 10_000), exactSample(1000, 20_000), exactSample(2000, 100), exactSample(2000, 40_000)];
const FORWARD = { usPerForward: 10, source: 'test' };
const WORKLOAD = { ratePerVehicle: 10, commandsPerVehicleS: 1 / 60, broadcastHz: 0.2 };

t.test('least squares recovers the coefficients of exact data', async (t) => {
  const x = leastSquares(
    [
      [1, 0],
      [1, 1],
      [1, 2],
    ],
    [1, 3, 5],
  );
  t.ok(x);
  t.ok(Math.abs(x![0]! - 1) < 1e-9 && Math.abs(x![1]! - 2) < 1e-9, `x = ${x}`);
});

t.test('least squares refuses dependent columns and too few rows', async (t) => {
  t.equal(leastSquares([[1, 2], [2, 4], [3, 6]], [1, 2, 3]), undefined);
  t.equal(leastSquares([[1, 2]], [1]), undefined);
});

t.test('non-negative least squares drops a column that would go negative', async (t) => {
  // y falls with the second column: the unconstrained slope is negative, the constrained one 0.
  const x = nonNegativeLeastSquares([[1, 0], [1, 1], [1, 2]], [3, 2, 1]);
  t.same(x?.map((v) => Number(v.toFixed(9))), [2, 0]);
});

t.test('the fit recovers fixed, per-vehicle and per-message cost and memory from exact samples', async (t) => {
  const f = fitCosts(EXACT)!;
  t.ok(f);
  t.ok(Math.abs(f.fixedCores - 0.05) < 1e-9, `fixed ${f.fixedCores}`);
  t.ok(Math.abs(f.usPerVehicleSecond - 2) < 1e-6, `per vehicle ${f.usPerVehicleSecond}`);
  t.ok(Math.abs(f.usPerMessage - 20) < 1e-6, `per message ${f.usPerMessage}`);
  t.ok(Math.abs(f.rssPerVehicleBytes - 10_240) < 1e-3, `rss per vehicle ${f.rssPerVehicleBytes}`);
  t.ok(Math.abs(f.messagesPerRecord - 2) < 1e-9);
  t.same(f.sizes, [0, 500, 1000, 2000]);
});

t.test('fewer than three fleet sizes give no fit', async (t) => {
  t.equal(fitCosts([exactSample(0, 0), exactSample(500, 10_000), exactSample(500, 50)]), undefined);
});

t.test('each size in the fit is predicted by a fit without it; other phases by the full fit', async (t) => {
  const other = { ...exactSample(1000, 20_000), label: 'main phase' };
  const checks = checkModel(EXACT, [other]);
  t.equal(checks.length, EXACT.length + 1);
  for (const c of checks) t.ok(Math.abs(c.errorPct) < 1e-6, `${c.label}: error ${c.errorPct}`);
  t.same(checks.map((c) => c.inFit), [true, true, true, true, true, true, false]);
  t.equal(heldOutErrorPct(checks) < 1e-6, true);
});

t.test('a size whose removal leaves too few sizes has no held-out prediction', async (t) => {
  const three = [exactSample(0, 0), exactSample(500, 10_000), exactSample(1000, 20_000)];
  const checks = checkModel(three, []);
  t.ok(checks.every((c) => Number.isNaN(c.predictedCores)));
  t.ok(checks.every((c) => Math.abs(c.fittedCores - c.measuredCores) < 1e-9));
});

t.test('the held-out check shows a model that extrapolates badly', async (t) => {
  // Per-message cost falls with load (per-turn overhead amortised): a line through the small sizes overshoots the large one.
  const concave = [0, 250, 500, 1000, 4000].map((v) => ({ ...exactSample(v, v * 20), cores: v === 0 ? 0.01 : 0.02 + 0.1 * Math.sqrt(v / 1000) }));
  const largest = checkModel(concave, []).find((c) => c.vehicles === 4000)!;
  t.ok(largest.predictedCores > largest.measuredCores * 1.2, `predicted ${largest.predictedCores} vs measured ${largest.measuredCores}`);
});

t.test('the plan needs processes for CPU or for open files, whichever is more', async (t) => {
  const cheap: CostFit = { ...fitCosts(EXACT)!, fixedCores: 0, usPerVehicleSecond: 0, usPerMessage: 0.01 };
  const [row] = plan(cheap, FORWARD, [1_000_000], WORKLOAD, 16);
  t.equal(row!.processes, row!.processesByFiles);
  t.ok(row!.vehiclesPerProcess < OPEN_FILES_PER_PROCESS, `${row!.vehiclesPerProcess} vehicles per process`);
  const costly = fitCosts(EXACT)!;
  const [busy] = plan(costly, FORWARD, [1_000_000], WORKLOAD, 16);
  t.equal(busy!.processes, busy!.processesByCpu);
  t.ok(busy!.processesByCpu > busy!.processesByFiles);
  t.ok(busy!.brokerCores / busy!.processes <= 0.6 + 1e-9, 'processes planned at most 60% busy');
  t.equal(busy!.nodes, Math.ceil(busy!.processes / 12), '12 broker processes on a 16-core node');
});

t.test('the plan grows with the fleet and counts every process\'s fixed cost', async (t) => {
  const f = fitCosts(EXACT)!;
  const [small, large] = plan(f, FORWARD, [100_000, 1_000_000], WORKLOAD, 16);
  t.ok(large!.processes > small!.processes && large!.nodes >= small!.nodes);
  t.ok(large!.brokerCores >= predictCores(f, 1_000_000, large!.messagesPerSecond, large!.processes), 'forwarding adds to the traffic cost');
  t.ok(large!.memoryGiB > small!.memoryGiB);
});

t.test('the whole model states its assumptions with the fitted numbers', async (t) => {
  const m = capacityPlan(EXACT, [], FORWARD, [100_000], WORKLOAD, 16)!;
  t.ok(m);
  t.match(m.assumptions.join('\n'), /0\.050 cores \+ vehicles × 2\.00 µs\/s \+ messages handled × 20\.00 µs/);
  t.match(m.assumptions.join('\n'), /open-files limit 20000/);
  t.equal(capacityPlan(EXACT.slice(0, 2), [], FORWARD, [100_000], WORKLOAD, 16), undefined);
});
