/** The fleet bench's scenarios, each against a broker started for it and stopped after it. */
import { type ConnectResult, type FleetResult, type PeerRow, type PhaseResult, type ReconnectResult } from './results.js';
import { DEFAULT_BACKOFF } from '../../src/protocol/backoff.js';
import type { DeviceKind } from './messages.js';
import type { FleetOptions } from './options.js';
import { sampleTree } from './proc-stats.js';
import type { ProgressLine } from './progress.js';
import type { DeviceLink, PhaseSpec, Simulator } from './simulator.js';
import { peerUnavailable, startTarget, type BrokerName, type BrokerTarget, type TargetSettings } from './targets.js';

export interface RunContext {
  sim: Simulator;
  options: FleetOptions;
  log: ProgressLine;
  result: FleetResult;
  /** No new scenario starts past this time (ms since epoch). */
  deadline: number;
  targetSettings: TargetSettings;
  /** How devices reach the broker (default: directly, sessions held). */
  link?: DeviceLink;
}

/** A broker with the simulator attached: `baselineRss` is its memory with the backends but no devices. */
export interface Attached {
  target: BrokerTarget;
  baselineRss: number;
}

export function pastDeadline(ctx: RunContext, what: string): boolean {
  if (Date.now() < ctx.deadline) return false;
  const note = `${what} skipped: the run reached --max-minutes ${ctx.options.maxMinutes}`;
  ctx.log.line(note);
  ctx.result.notes.push(note);
  return true;
}

/** Starts `name`, attaches the simulator with `kind` devices, runs `body`, and always tears both down. */
export async function withBroker<T>(ctx: RunContext, name: BrokerName, kind: DeviceKind, body: (a: Attached) => Promise<T>): Promise<T> {
  const target = await startTarget(name, ctx.targetSettings);
  ctx.log.line(`${name}: listening at ${target.url} (pid ${target.pid}, open-files limit ${target.fdLimit}); ${target.how}`);
  try {
    await ctx.sim.attach(target, kind, ctx.link);
    const baselineRss = sampleTree(target.pid).rssBytes;
    return await body({ target, baselineRss });
  } finally {
    await ctx.sim.detach();
    await target.stop();
  }
}

export function steadySpec(o: FleetOptions, seconds = o.durationS): PhaseSpec {
  return { scenario: 'steady', seconds, warmupS: o.warmupS, rate: o.rate, commandRate: o.commandRate, broadcastHz: o.steadyBroadcastHz };
}

export function broadcastSpec(o: FleetOptions): PhaseSpec {
  return { scenario: 'broadcast', seconds: o.durationS, warmupS: Math.min(1, o.warmupS), rate: 0, commandRate: 0, broadcastHz: o.fanoutHz };
}

export function withMemory(phase: PhaseResult, baselineRss: number): PhaseResult {
  phase.brokerUse.rssPerConnectionBytes = phase.held > 0 ? (phase.brokerUse.rssBytes - baselineRss) / phase.held : 0;
  return phase;
}

export async function connectFleet(ctx: RunContext, size: number, label: string): Promise<ConnectResult> {
  ctx.log.line(`  ${label}: connecting ${size - ctx.sim.size} devices (fleet ${ctx.sim.size} -> ${size})`);
  const c = await ctx.sim.grow(size);
  ctx.log.line(
    `  ${label}: ${c.connected}/${c.devices} connected in ${c.seconds.toFixed(1)} s (${c.connectsPerSecond.toFixed(0)}/s), ` +
      `${c.failed} failed${c.firstError ? ` (first: ${c.firstError})` : ''}; handshake p99 ${c.handshakeMs.p99.toFixed(1)} ms`,
  );
  return c;
}

/** relaymesh with lean raw devices: connect storm, steady telemetry, 1-to-N broadcast, soak. */
export async function relaymeshScenarios(ctx: RunContext): Promise<void> {
  const { options: o, result } = ctx;
  const wanted = (s: string): boolean => o.scenarios.includes(s as never);
  if (!['connect', 'steady', 'broadcast', 'soak'].some(wanted)) return;
  ctx.log.line(`relaymesh: ${o.devices} raw devices over ${o.workers} worker processes, ${o.backends} backend connections`);
  await withBroker(ctx, 'relaymesh', 'raw', async ({ target, baselineRss }) => {
    result.relaymesh.how = target.how;
    const connect = await connectFleet(ctx, o.devices, 'connect storm');
    if (wanted('connect')) result.relaymesh.connect = connect;
    if (wanted('steady') && !pastDeadline(ctx, 'steady')) result.relaymesh.steady = withMemory(await ctx.sim.runPhase(steadySpec(o)), baselineRss);
    if (wanted('broadcast') && !pastDeadline(ctx, 'broadcast')) result.relaymesh.broadcast = withMemory(await ctx.sim.runPhase(broadcastSpec(o)), baselineRss);
    if (wanted('soak') && !pastDeadline(ctx, 'soak')) {
      const spec: PhaseSpec = { ...steadySpec(o, o.soakS), scenario: 'soak', warmupS: 0, seriesEveryS: Math.max(1, Math.min(5, Math.round(o.soakS / 6))) };
      result.relaymesh.soak = withMemory(await ctx.sim.runPhase(spec), baselineRss);
    }
  });
}

/**
 * Reconnect storm on SDK devices: while telemetry flows, `dropFraction` of the fleet loses its
 * TCP connection at the same moment and comes back through the SDK's own backoff.
 */
export async function reconnectStorm(ctx: RunContext): Promise<void> {
  const { options: o } = ctx;
  if (!o.scenarios.includes('reconnect') || pastDeadline(ctx, 'reconnect')) return;
  ctx.log.line(`reconnect storm: ${o.devices} SDK devices (RelaymeshClient), ${Math.round(o.dropFraction * 100)}% dropped at once`);
  await withBroker(ctx, 'relaymesh', 'sdk', async ({ baselineRss }) => {
    await connectFleet(ctx, o.devices, 'reconnect storm');
    const dropAtS = Math.max(1, Math.min(3, o.durationS / 2));
    const maxS = Math.max(o.durationS, dropAtS + 20);
    let dropped = 0;
    let droppedAt = 0;
    let allBackAt = 0;
    let peak = 0;
    let lastReconnects = 0;
    let lastAt = Date.now();
    const spec: PhaseSpec = {
      ...steadySpec(o, maxS),
      scenario: 'reconnect',
      warmupS: 0,
      during: async (elapsedS, p) => {
        const now = Date.now();
        peak = Math.max(peak, ((p.reconnects - lastReconnects) * 1000) / Math.max(1, now - lastAt));
        lastReconnects = p.reconnects;
        lastAt = now;
        if (dropped === 0 && elapsedS >= dropAtS) {
          dropped = await ctx.sim.drop(o.dropFraction);
          droppedAt = Date.now();
          ctx.log.line(`  reconnect: dropped ${dropped} connections`);
          return;
        }
        if (dropped > 0 && !allBackAt && p.reconnects >= dropped) allBackAt = now;
        // Two quiet seconds after everyone is back, and at least the asked-for duration.
        if (allBackAt && now - allBackAt >= 2000 && elapsedS >= o.durationS) return 'stop';
        return undefined;
      },
    };
    const phase = withMemory(await ctx.sim.runPhase(spec), baselineRss);
    ctx.result.relaymesh.reconnect = {
      devices: o.devices,
      dropped,
      reconnected: phase.reconnects.count,
      notBack: Math.max(0, dropped - phase.reconnects.count),
      attempts: phase.reconnects.attempts,
      secondsUntilAllBack: allBackAt ? (allBackAt - droppedAt) / 1000 : NaN,
      reconnectMs: phase.reconnects.timeMs,
      peakReconnectsPerSecond: peak,
      backoff: `SDK default: ${DEFAULT_BACKOFF.initialDelayMs} ms doubling to ${DEFAULT_BACKOFF.maxDelayMs} ms, ${DEFAULT_BACKOFF.jitter * 100}% jitter`,
      phase,
    } satisfies ReconnectResult;
  });
}

/** The steady-telemetry and broadcast scenarios against each MQTT peer, with mqtt.js devices. */
export async function peerComparison(ctx: RunContext): Promise<void> {
  const { options: o } = ctx;
  const scenarios = o.scenarios.filter((s) => s === 'steady' || s === 'broadcast');
  if (o.peers.length === 0 || scenarios.length === 0) return;
  for (const name of o.peers) {
    const row: PeerRow = { broker: name, available: true };
    ctx.result.peers.push(row);
    const why = await peerUnavailable(name);
    if (why) {
      row.available = false;
      row.skipped = why;
      ctx.log.line(`${name}: skipped: ${why}`);
      continue;
    }
    if (pastDeadline(ctx, name)) {
      row.available = false;
      row.skipped = 'run time limit reached';
      continue;
    }
    ctx.log.line(`${name}: ${o.devices} mqtt.js devices over ${o.workers} worker processes`);
    try {
      await withBroker(ctx, name, 'mqtt', async ({ target, baselineRss }) => {
        row.how = target.how;
        row.connect = await connectFleet(ctx, o.devices, `${name} connect`);
        if (scenarios.includes('steady')) row.steady = withMemory(await ctx.sim.runPhase(steadySpec(o)), baselineRss);
        if (scenarios.includes('broadcast')) row.broadcast = withMemory(await ctx.sim.runPhase(broadcastSpec(o)), baselineRss);
      });
    } catch (err) {
      // A peer that falls over under the load is a result, not a failure of the bench.
      row.error = (err as Error).message;
      ctx.log.line(`${name}: failed: ${row.error}`);
    }
  }
}
