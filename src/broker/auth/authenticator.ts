import type { Acl } from './acl.js';

export interface Credentials {
  deviceId: string;
  token?: string;
  remoteAddress: string;
  /** Identity asserted by a trusted TLS-terminating proxy (client certificate subject), if any. */
  proxiedIdentity?: string;
}

export type AuthResult =
  | {
      ok: true;
      /** What the device may do; absent: anything. */
      acl?: Acl;
      /** When the credentials stop being valid (ms since epoch); the session is closed then. */
      expiresAt?: number;
    }
  | { ok: false; reason: string };

/** Decides whether a device may connect with the credentials of its HELLO. */
export type Authenticator = (credentials: Credentials) => AuthResult | Promise<AuthResult>;

export const acceptAnyDevice: Authenticator = () => ({ ok: true });
