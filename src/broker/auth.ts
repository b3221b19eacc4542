export interface Credentials {
  deviceId: string;
  token?: string;
  remoteAddress: string;
}

export type AuthResult = { ok: true } | { ok: false; reason: string };

/** Decides whether a device may connect with the credentials of its HELLO. */
export type Authenticator = (credentials: Credentials) => AuthResult | Promise<AuthResult>;

export const acceptAnyDevice: Authenticator = () => ({ ok: true });
