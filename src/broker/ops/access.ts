import { timingSafeEqual } from 'node:crypto';
import type { HttpReply, HttpRequestInfo } from '../../transport/index.js';

export const json = (body: unknown, status = '200 OK'): HttpReply => ({ status, contentType: 'application/json', body: JSON.stringify(body) });

type Handler<R> = (request: HttpRequestInfo) => R;

/** The admin API: disabled (404) without a configured token, 401 without the right one. */
export function adminOnly<R>(token: string | undefined, handle: Handler<R>): Handler<R | HttpReply> {
  return (request) => {
    if (!token) return json({ error: 'the admin API is disabled: set adminToken' }, '404 Not Found');
    return withToken(token, handle, request);
  };
}

/** Open when no admin token is set (local use); behind the token otherwise. */
export function tokenIfSet<R>(token: string | undefined, handle: Handler<R>): Handler<R | HttpReply> {
  return (request) => (token ? withToken(token, handle, request) : handle(request));
}

function withToken<R>(token: string, handle: Handler<R>, request: HttpRequestInfo): R | HttpReply {
  return tokenMatches(request.headers.authorization, token) ? handle(request) : json({ error: 'admin token required: Authorization: Bearer <token>' }, '401 Unauthorized');
}

/** Only the documented form, `Authorization: Bearer <token>`, is accepted. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
