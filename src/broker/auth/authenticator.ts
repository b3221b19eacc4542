import type { Acl } from './acl.js';

export interface Credentials {
  deviceId: string;
  token?: string;
  remoteAddress: string;
  /** Identity asserted by a trusted TLS-terminating proxy (client certificate subject), if any. */
  proxiedIdentity?: string;
}

export interface AuthGrant {
  ok: true;
  /** What the device may do; absent: anything. */
  acl?: Acl;
  /** When the credentials stop being valid (ms since epoch); the session is closed then. */
  expiresAt?: number;
}

/** An authenticator's answer; `{ ok: boolean }` alone is enough (a denial's reason defaults to "not authorized"). */
export type AuthResult = AuthGrant | { ok: false; reason?: string };

/** Decides whether a device may connect with the credentials of its HELLO. */
export type Authenticator = (credentials: Credentials) => AuthResult | Promise<AuthResult>;

/** What the broker acts on: a denial always carries the reason sent to the device. */
export type AuthVerdict = AuthGrant | { ok: false; reason: string };

/** The broker's own authenticator, built from its options by `buildAuthenticator`. */
export type VerdictSource = (credentials: Credentials) => Promise<AuthVerdict>;

export const acceptAnyDevice: Authenticator = () => ({ ok: true });
