import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { parseScope } from './acl.js';
import type { Authenticator, AuthResult } from './authenticator.js';

export interface JwtOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** PEM file of an RS256 or ES256 public key. */
  publicKeyFile?: string;
  /** JWKS file (RS256/ES256 keys, chosen by `kid`). */
  jwksFile?: string;
  issuer?: string;
  audience?: string;
}

type Key = Uint8Array | CryptoKey | JWTVerifyGetKey;

/** Loads the verification key once, at start-up; a bad key file fails start-up, not a device. */
export async function loadJwtKey(options: JwtOptions): Promise<{ key: Key; algorithms: string[] }> {
  if (options.secret) return { key: new TextEncoder().encode(options.secret), algorithms: ['HS256'] };
  if (options.jwksFile) {
    const jwks = JSON.parse(readFileSync(options.jwksFile, 'utf8')) as Parameters<typeof createLocalJWKSet>[0];
    return { key: createLocalJWKSet(jwks), algorithms: ['RS256', 'ES256'] };
  }
  if (options.publicKeyFile) {
    const pem = readFileSync(options.publicKeyFile, 'utf8');
    const alg = await detectAlg(pem);
    return { key: await importSPKI(pem, alg), algorithms: [alg] };
  }
  throw new Error('jwt needs one of secret, publicKeyFile or jwksFile');
}

/** ES256 if the key is an EC P-256 key, else RS256. */
async function detectAlg(pem: string): Promise<string> {
  try {
    await importSPKI(pem, 'ES256');
    return 'ES256';
  } catch {
    return 'RS256';
  }
}

/**
 * Device tokens: `sub` must equal the HELLO's device id, `exp` is required, `scope` (optional)
 * limits what the device may publish, subscribe and send.
 */
export async function jwtAuthenticator(options: JwtOptions): Promise<Authenticator> {
  const { key, algorithms } = await loadJwtKey(options);
  return async ({ deviceId, token }): Promise<AuthResult> => {
    if (!token) return { ok: false, reason: 'a token is required' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        requiredClaims: ['sub', 'exp'],
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: 'token expired' };
      return { ok: false, reason: `invalid token: ${(err as Error).message}` };
    }
    if (payload.sub !== deviceId) return { ok: false, reason: 'token subject does not match the device id' };
    try {
      const acl = parseScope(payload.scope);
      return { ok: true, expiresAt: payload.exp! * 1000, ...(acl ? { acl } : {}) };
    } catch (err) {
      return { ok: false, reason: `invalid token scope: ${(err as Error).message}` };
    }
  };
}
