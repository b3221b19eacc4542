import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CampaignResult } from './campaign.js';

/** The verdict: passed only if the broker never crashed or stalled, stayed up and answering, and kept stored messages intact. */
export function findings(r: CampaignResult): string[] {
  const out: string[] = [];
  if (r.crash) out.push(`broker process exited during the campaign (code ${r.crash.code}, signal ${r.crash.signal})`);
  if (!r.aliveAtEnd) out.push('broker process not alive at the end');
  if (r.aliveAtEnd && !r.answeringAtEnd) out.push('broker alive but not answering a new connection');
  if (r.stats.stalls > 0) out.push(`${r.stats.stalls} stalls (an answer missing for ${r.options.stallMs} ms on an open socket)`);
  if (r.stats.internalErrors > 0) out.push(`${r.stats.internalErrors} INTERNAL errors`);
  if (r.stats.oracleMismatches > 0) out.push(`${r.stats.oracleMismatches} windows where the broker's MALFORMED_FRAME/TOO_LARGE answers differ from the oracle`);
  if (r.stats.undecodableReplies > 0) out.push(`${r.stats.undecodableReplies} undecodable broker frames`);
  if (r.clusterPort.oversizedReasons > 0) out.push(`${r.clusterPort.oversizedReasons} cluster-port close reasons longer than a close frame holds`);
  if (r.clusterPort.stalls > 0) out.push(`${r.clusterPort.stalls} cluster-port sockets neither closed nor answered`);
  if (!r.storedMessages.intact) out.push(`stored messages damaged: ${r.storedMessages.detail}`);
  return out;
}

export function renderReport(r: CampaignResult): string {
  const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
  const s = r.stats;
  const table = (rows: Record<string, number>) =>
    Object.entries(rows)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `    ${k.padEnd(28)} ${String(v).padStart(10)}`)
      .join('\n');
  const problems = findings(r);
  return [
    `fuzz campaign: ${r.options.frames} frames over ${r.options.connections} connections, seed ${r.options.seed}, maxFrameBytes ${r.options.maxFrameBytes}`,
    ``,
    `  frames sent                  ${s.framesSent} (${(s.bytesSent / 1024 / 1024).toFixed(1)} MiB) in ${r.fuzzingS.toFixed(1)} s, ${r.framesPerSecond.toFixed(0)}/s`,
    `  control frames (HELLO, PING) ${s.controlFramesSent}`,
    `  CPU while fuzzing            broker ${r.cpuS.broker} s, client ${r.cpuS.client} s`,
    `  connections opened           ${s.connectionsOpened} (${s.handshakeProbes} with fuzz before HELLO, ${s.openFailures} failed to open)`,
    `  ERROR frames returned        ${s.errorFrames}`,
    `  closes by the broker         ${s.closes}`,
    `  crashes                      ${r.crash ? 1 : 0}`,
    `  stalls                       ${s.stalls}`,
    `  INTERNAL errors              ${s.internalErrors}`,
    `  undecodable broker frames    ${s.undecodableReplies}`,
    `  oracle mismatches            ${s.oracleMismatches} (MALFORMED_FRAME/TOO_LARGE counts checked at every sentinel)`,
    `  cluster port                 ${r.clusterPort.sockets} sockets (${r.clusterPort.authenticated} authenticated), ${r.clusterPort.messagesSent} hostile messages, closes ${JSON.stringify(r.clusterPort.closesByCode)}, ${r.clusterPort.stalls} stalls`,
    `  alive / answering at end     ${r.aliveAtEnd} / ${r.answeringAtEnd}`,
    `  stored messages              ${r.storedMessages.intact ? 'intact' : 'DAMAGED'}: ${r.storedMessages.stored} (${r.storedMessages.detail})`,
    `  bystander PING round trip    p50 ${r.bystanderPingMs.p50} ms, p99 ${r.bystanderPingMs.p99} ms, max ${r.bystanderPingMs.max} ms (${r.bystanderPingMs.samples} samples, ${r.bystanderPingMs.unanswered} unanswered)`,
    `  broker RSS before / after    ${mib(r.memory.before.rssKb)} / ${mib(r.memory.after.rssKb)} (peak ${mib(r.memory.peakRssKb)}; anon ${mib(r.memory.before.anonKb)} / ${mib(r.memory.after.anonKb)})`,
    `  broker data dir at the end   ${mib(r.dataDirBytes / 1024)} on disk (messages and sessions stored by the valid frames)`,
    `  graceful shutdown            ${r.gracefulShutdown ? `exit code ${r.gracefulShutdown.code} in ${r.gracefulShutdown.ms} ms` : 'n/a'}`,
    ``,
    `  frames sent by category:`,
    table(s.sentByCategory as Record<string, number>),
    `  ERROR frames by code:`,
    table(s.errorsByCode),
    `  closes by code:`,
    table(s.closesByCode),
    `  frames received by kind:`,
    table(s.receivedByKind),
    ``,
    problems.length === 0 ? 'verdict: PASS' : `verdict: FAIL\n  ${problems.join('\n  ')}`,
    ...s.suspects.slice(0, 5).map((x) => `  suspect: ${x.what} on connection ${x.connection} at ${x.at}: ${x.detail}\n    last frame: ${x.lastFramesHex.at(-1) ?? '-'}`),
  ].join('\n');
}

export function writeResult(outDir: string, r: CampaignResult): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, 'fuzz-latest.json');
  const { stats, ...rest } = r;
  const json = { ...rest, verdict: findings(r).length === 0 ? 'pass' : 'fail', findings: findings(r), stats: { ...stats, errorFrames: stats.errorFrames, internalErrors: stats.internalErrors, closes: stats.closes } };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  return file;
}
