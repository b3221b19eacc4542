import { INBOX_PREFIX, inboxStream } from '../protocol/index.js';

/**
 * How MQTT topics map onto relaymesh: a topic is a relaymesh topic (same name, same payload
 * bytes); `$inbox/<device id>` is a device's inbox. An MQTT client receives what is sent to its
 * client id on `$inbox/<client id>` (always, as relaymesh devices do), and publishing to
 * `$inbox/<other id>` is a SEND to that device.
 */
export type PublishTarget = { kind: 'topic'; topic: string } | { kind: 'inbox'; target: string };

export function publishTarget(topic: string): PublishTarget {
  if (topic.startsWith(INBOX_PREFIX)) return { kind: 'inbox', target: topic.slice(INBOX_PREFIX.length) };
  return { kind: 'topic', topic };
}

export const SHARE_PREFIX = '$share/';

export type SubscribeTarget =
  /** A relaymesh topic filter. */
  | { kind: 'filter'; filter: string }
  /** `$share/<group>/<filter>`: one member of the group gets each message. */
  | { kind: 'shared'; group: string; filter: string }
  /** The client's own inbox, which it receives anyway. */
  | { kind: 'own-inbox' }
  | { kind: 'invalid'; why: string };

export function subscribeTarget(filter: string, clientId: string): SubscribeTarget {
  if (filter === inboxStream(clientId)) return { kind: 'own-inbox' };
  if (filter.startsWith(SHARE_PREFIX)) {
    const rest = filter.slice(SHARE_PREFIX.length);
    const slash = rest.indexOf('/');
    const group = slash < 0 ? '' : rest.slice(0, slash);
    if (group === '' || group.includes('+') || group.includes('#')) return { kind: 'invalid', why: 'a shared subscription is $share/<group>/<filter>' };
    return { kind: 'shared', group, filter: rest.slice(slash + 1) };
  }
  if (filter.startsWith(INBOX_PREFIX)) return { kind: 'invalid', why: 'only your own inbox can be subscribed to' };
  return { kind: 'filter', filter };
}
