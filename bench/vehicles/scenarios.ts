/** The vehicle bench's phases: one broker, one kind of vehicle client, one network each. */
import { connectFleet, pastDeadline, steadySpec, withBroker, withMemory, type RunContext } from '../fleet/scenarios.js';
import type { DeviceKind } from '../fleet/messages.js';
import type { DeviceLink } from '../fleet/simulator.js';
import { peerUnavailable, type BrokerName } from '../fleet/targets.js';
import type { VehiclePhase } from './results.js';

export interface PhasePlan {
  label: string;
  broker: BrokerName;
  kind: DeviceKind;
  link: DeviceLink;
}

/**
 * Connects the fleet through `plan.link` and runs steady vehicle traffic for the phase's duration.
 * A peer that is missing or fails is recorded, not thrown.
 */
export async function vehiclePhase(ctx: RunContext, plan: PhasePlan): Promise<VehiclePhase> {
  const o = ctx.options;
  const row: VehiclePhase = { label: plan.label, broker: plan.broker, client: plan.kind, network: plan.link.network.name, driveS: plan.link.driveS };
  const why = await peerUnavailable(plan.broker);
  if (why) {
    row.skipped = why;
    ctx.log.line(`${plan.label}: skipped: ${why}`);
    return row;
  }
  if (pastDeadline(ctx, plan.label)) {
    row.skipped = 'run time limit reached';
    return row;
  }
  ctx.log.line(`${plan.label}: ${o.devices} ${plan.kind} vehicles over ${o.workers} workers, network ${plan.link.network.name}, drives of ${plan.link.driveS} s`);
  try {
    await withBroker({ ...ctx, link: plan.link }, plan.broker, plan.kind, async ({ baselineRss }) => {
      row.connect = await connectFleet(ctx, o.devices, plan.label);
      row.phase = withMemory(await ctx.sim.runPhase({ ...steadySpec(o), scenario: plan.label }), baselineRss);
    });
  } catch (err) {
    if (plan.broker === 'relaymesh') throw err;
    // A peer that falls over under the load is a result, not a failure of the bench.
    row.skipped = `failed: ${(err as Error).message}`;
    ctx.log.line(`${plan.label}: ${row.skipped}`);
  }
  return row;
}
