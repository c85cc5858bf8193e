import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const CALLER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The caller's own `x-request-id` when it is safe to echo, else a new UUID; set on the response too.
 * Asked again for the same request, it answers the id it gave.
 */
export function requestIdFor(req: IncomingMessage, res: ServerResponse): string {
  const given = res.getHeader('x-request-id');
  if (typeof given === 'string') {
    return given;
  }
  const header = req.headers['x-request-id'];
  const id = typeof header === 'string' && CALLER_ID.test(header) ? header : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}
