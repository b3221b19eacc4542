import { readFileSync } from 'node:fs';
import { parseScope, type Acl } from './acl.js';

/**
 * An ACL file: `{ "devices": { "<deviceId>": <scope> }, "default": <scope> }`, where a scope is
 * `{ "pub": [...], "sub": [...], "send": [...] }` or "pub:a/# sub:b/+" — the same as a token's.
 * Read once at start-up; a malformed file fails start-up.
 */
export function loadAclFile(path: string): (deviceId: string) => Acl | undefined {
  let parsed: { devices?: Record<string, unknown>; default?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as typeof parsed;
  } catch (err) {
    throw new Error(`cannot read the ACL file ${path}: ${(err as Error).message}`);
  }
  const devices = new Map<string, Acl>();
  for (const [deviceId, scope] of Object.entries(parsed.devices ?? {})) devices.set(deviceId, parseScope(scope)!);
  const fallback = parseScope(parsed.default);
  return (deviceId) => devices.get(deviceId) ?? fallback;
}
