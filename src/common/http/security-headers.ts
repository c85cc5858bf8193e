import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Headers every response carries, set before anything can answer (errors of the body parser, the docs, the demo
 * page and the operational routes included): browsers take no response for another type than it declares, and
 * no page of ours may be framed (the demo page replaces this Content-Security-Policy with its fuller one).
 */
export function securityHeaders(_req: IncomingMessage, res: ServerResponse, next: () => void): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "frame-ancestors 'none'");
  next();
}
