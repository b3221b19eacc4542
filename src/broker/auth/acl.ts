import { ErrorCode, ProtocolError, topicMatches } from '../../protocol/index.js';

/** What a device may do: topic filters it may publish to / subscribe under, devices it may SEND to ('*': any). */
export interface Acl {
  publish: string[];
  subscribe: string[];
  send: string[];
}

/** Parses a token's `scope` claim: `{ pub, sub, send }` lists, or a string like "pub:fleet/# sub:cmd/+ send:*". */
export function parseScope(scope: unknown): Acl | undefined {
  if (scope === undefined || scope === null) return undefined;
  const acl: Acl = { publish: [], subscribe: [], send: [] };
  if (typeof scope === 'string') {
    for (const item of scope.split(/\s+/).filter(Boolean)) {
      const at = item.indexOf(':');
      const kind = item.slice(0, at);
      const pattern = item.slice(at + 1);
      if (kind === 'pub') acl.publish.push(pattern);
      else if (kind === 'sub') acl.subscribe.push(pattern);
      else if (kind === 'send') acl.send.push(pattern);
      else throw new Error(`scope item ${JSON.stringify(item)} must start with pub:, sub: or send:`);
    }
    return acl;
  }
  if (typeof scope === 'object') {
    const s = scope as Record<string, unknown>;
    const list = (v: unknown, name: string): string[] => {
      if (v === undefined) return [];
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
      throw new Error(`scope.${name} must be a list of strings`);
    };
    return { publish: list(s.pub, 'pub'), subscribe: list(s.sub, 'sub'), send: list(s.send, 'send') };
  }
  throw new Error('scope must be a string or an object');
}

/** Whether every topic matched by `filter` is also matched by `pattern`. */
export function filterCovers(pattern: string, filter: string): boolean {
  const p = pattern.split('/');
  const f = filter.split('/');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '#') return true;
    if (i >= f.length) return false;
    if (f[i] === '#') return false;
    if (p[i] === '+') continue;
    if (p[i] !== f[i]) return false;
  }
  return p.length === f.length;
}

export function checkPublish(acl: Acl | undefined, topic: string): void {
  if (acl && !acl.publish.some((p) => topicMatches(p, topic))) {
    throw new ProtocolError(ErrorCode.FORBIDDEN, `not allowed to publish to ${JSON.stringify(topic)}`);
  }
}

/** Whether the ACL lets a device subscribe to `filter`. */
export function mayReceive(acl: Acl | undefined, filter: string): boolean {
  return !acl || acl.subscribe.some((p) => filterCovers(p, filter));
}

export function checkSubscribe(acl: Acl | undefined, filters: readonly string[]): void {
  const denied = filters.find((f) => !mayReceive(acl, f));
  if (denied !== undefined) throw new ProtocolError(ErrorCode.FORBIDDEN, `not allowed to subscribe to ${JSON.stringify(denied)}`);
}

export function checkSend(acl: Acl | undefined, target: string): void {
  if (acl && !acl.send.some((p) => p === '*' || p === target)) {
    throw new ProtocolError(ErrorCode.FORBIDDEN, `not allowed to send to ${JSON.stringify(target)}`);
  }
}
