import type { Acl } from './acl.js';
import { acceptAnyDevice, type Authenticator, type VerdictSource } from './authenticator.js';
import type { JwtOptions } from './jwt.js';
import { loadAclFile } from './static-acl.js';

export * from './acl.js';
export * from './authenticator.js';
export type { JwtOptions } from './jwt.js';

export interface AuthOptions {
  authenticate?: Authenticator;
  jwt?: JwtOptions;
  anonymous: boolean;
  aclFile?: string;
}

/**
 * The broker's authenticator: a device whose identity a trusted proxy asserted (client
 * certificate) is in when it matches; otherwise the custom function, JWT, or anonymous mode
 * decides. The ACL comes from the token's scope, else from the ACL file.
 */
export async function buildAuthenticator(options: AuthOptions): Promise<VerdictSource> {
  const decide: Authenticator =
    options.authenticate ??
    // jose is loaded only when tokens are checked: a broker without JWT starts faster.
    (options.jwt ? await (await import('./jwt.js')).jwtAuthenticator(options.jwt) : options.anonymous ? acceptAnyDevice : () => ({ ok: false, reason: 'credentials required' }));
  const staticAcl: (deviceId: string) => Acl | undefined = options.aclFile ? loadAclFile(options.aclFile) : () => undefined;
  return async (credentials) => {
    if (credentials.proxiedIdentity !== undefined) {
      if (credentials.proxiedIdentity !== credentials.deviceId) return { ok: false, reason: 'device id does not match the client certificate' };
      const acl = staticAcl(credentials.deviceId);
      return { ok: true, ...(acl ? { acl } : {}) };
    }
    const result = await decide(credentials);
    if (!result.ok) return { ok: false, reason: result.reason ?? 'not authorized' };
    if (result.acl) return result;
    const acl = staticAcl(credentials.deviceId);
    return acl ? { ...result, acl } : result;
  };
}
