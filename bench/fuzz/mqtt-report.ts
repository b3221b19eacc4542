import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttCampaignResult } from './mqtt-campaign.js';

/** The verdict: passed only if every reaction conformed, nothing crashed or stalled, and nobody well-behaved lost anything. */
export function mqttFindings(r: MqttCampaignResult): string[] {
  const out: string[] = [];
  if (r.crash) out.push(`broker process exited during the campaign (code ${r.crash.code}, signal ${r.crash.signal})`);
  if (!r.aliveAtEnd) out.push('broker process not alive at the end');
  for (const t of r.tallies) {
    const runs = t.runs.tcp + t.runs.ws;
    if (t.conformant < runs) out.push(`${t.case}, MQTT ${version(t.version)}: ${runs - t.conformant} of ${runs} not conformant (${t.firstProblem})`);
  }
  if (r.healthz.failures > 0) out.push(`/healthz failed ${r.healthz.failures} of ${r.healthz.polls} polls (${r.healthz.firstFailure})`);
  if (r.wellBehaved.lost > 0) out.push(`the well-behaved client lost ${r.wellBehaved.lost} of ${r.wellBehaved.sent} QoS 1 messages`);
  if (!r.storedMessages.intact) out.push(`stored messages damaged: ${r.storedMessages.detail}`);
  return out;
}

const version = (v: 4 | 5): string => (v === 4 ? '3.1.1' : '5.0');

export function renderMqttReport(r: MqttCampaignResult): string {
  const played = r.tallies.reduce((n, t) => n + t.runs.tcp + t.runs.ws, 0);
  const rows = r.tallies.map((t) => [t.case, version(t.version), String(t.runs.tcp), String(t.runs.ws), `${t.conformant}/${t.runs.tcp + t.runs.ws}`, t.expect]);
  const header = ['case', 'MQTT', 'tcp', 'ws', 'conformant', 'expected reaction'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 || i === 3 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
  const problems = mqttFindings(r);
  return [
    `MQTT fuzz campaign: ${played} hostile connections (${r.options.connections} at a time) in ${r.fuzzingS.toFixed(1)} s, ${r.casesPerSecond.toFixed(0)}/s, seed ${r.options.seed}, max packet ${r.options.maxPacketBytes} bytes`,
    ``,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ``,
    `  crashes                      ${r.crash ? 1 : 0}`,
    `  /healthz                     ${r.healthz.polls - r.healthz.failures} of ${r.healthz.polls} polls answered 200`,
    `  well-behaved client (QoS 1)  ${r.wellBehaved.received} of ${r.wellBehaved.sent} received`,
    `  stored messages              ${r.storedMessages.intact ? 'intact' : 'DAMAGED'}: ${r.storedMessages.stored} (${r.storedMessages.detail})`,
    `  broker RSS before / after    ${mib(r.memory.before.rssKb)} / ${mib(r.memory.after.rssKb)}`,
    ``,
    problems.length === 0 ? 'verdict: PASS' : `verdict: FAIL\n  ${problems.join('\n  ')}`,
  ].join('\n');
}

export function writeMqttResult(outDir: string, r: MqttCampaignResult): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'fuzz-mqtt-latest.json');
  const problems = mqttFindings(r);
  writeFileSync(file, JSON.stringify({ ...r, verdict: problems.length === 0 ? 'pass' : 'fail', findings: problems }, null, 2) + '\n');
  return file;
}
