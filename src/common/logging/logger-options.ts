import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../../config/app-config';
import { requestIdFor } from '../http/request-id';
import { redactUrl } from './redact-url';

/** Paths whose answers are not worth a line each (probes, scrapes). */
const QUIET = /^\/(health\/|metrics$)/;

/**
 * JSON logs with the request id and `durationMs` on every request line. Tokens, passwords, keys and
 * message content never reach a line: request bodies are not logged, query values are redacted from URLs (a
 * token may come as `?access_token=`), and the known fields are redacted.
 */
export function loggerOptions(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      genReqId: (req: IncomingMessage, res: ServerResponse) => requestIdFor(req, res),
      customAttributeKeys: { responseTime: 'durationMs' },
      autoLogging: { ignore: (req: IncomingMessage) => QUIET.test(req.url ?? '') },
      customLogLevel: (_req, res, error) =>
        error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      customSuccessMessage: () => 'request completed',
      customErrorMessage: () => 'request failed',
      // Called when the request starts (bindings of every line it logs) and again when it ends.
      customProps: (req: IncomingMessage & { id?: unknown; user?: { id: string } }, res: ServerResponse) =>
        !res.headersSent ? { requestId: req.id } : req.user ? { userId: req.user.id } : {},
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: redactUrl(req.url) }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          '*.password',
          '*.accessToken',
          '*.token',
          '*.apiKey',
          '*.content',
          '*.systemPrompt',
        ],
        censor: '[redacted]',
      },
    },
  };
}
