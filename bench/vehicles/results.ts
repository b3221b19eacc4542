/** What the vehicle bench measures and writes to bench/results/vehicles-latest.json. Latencies in ms. */
import type { CapacityResult, ConnectResult, FleetResult, PhaseResult } from '../fleet/results.js';
import type { NetworkModel } from '../harness/network-model.js';
import type { CapacityPlan } from './capacity-model.js';
import type { Part } from './options.js';

/** One measured phase: a broker, a kind of vehicle client, a network. */
export interface VehiclePhase {
  label: string;
  broker: string;
  /** raw | sdk | mqtt: how the vehicles talk to the broker. */
  client: string;
  network: string;
  driveS: number;
  connect?: ConnectResult;
  phase?: PhaseResult;
  /** The phase could not run (a peer missing, or failing under load): why. */
  skipped?: string;
}

export interface VehicleResult {
  startedAt: string;
  durationS: number;
  machine: FleetResult['machine'];
  /** The machine's 1-minute load average sampled through the run (it is shared with other work). */
  loadDuring?: { everyS: number; mean: number; min: number; max: number; samples: number[] };
  source: FleetResult['source'];
  options: Record<string, unknown>;
  networks: { main: NetworkModel; mix: NetworkModel };
  /** Which parts of the bench ran (--parts). */
  parts: Part[];
  phases: VehiclePhase[];
  /** The broker with the backend and no vehicle: a process's fixed cost. */
  brokerAlone?: PhaseResult;
  /** A quarter and half of the main fleet, sessions held, loaded: the capacity model's own sizes. */
  modelFleets?: PhaseResult[];
  /** The same fleet on heartbeats only: what a connection costs the broker without traffic. */
  idle?: PhaseResult;
  capacity?: CapacityResult;
  model?: CapacityPlan;
  notes: string[];
  errors: string[];
}
