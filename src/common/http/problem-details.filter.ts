import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PinoLogger } from 'nestjs-pino';
import { describeErrorCode } from '../errors/error-code';
import { toAppException } from '../errors/to-app-exception';
import { requestIdFor } from './request-id';

/** Every HTTP error leaves as RFC 9457 problem details with the contract's code and the request id. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    logger.setContext(ProblemDetailsFilter.name);
  }

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    const { exception, unexpected } = toAppException(error);
    const { status, title } = describeErrorCode(exception.code);
    // Errors raised before the logger middleware (a malformed or oversized body) get their id here.
    const requestId = typeof req.id === 'string' ? req.id : requestIdFor(req, res);
    if (unexpected) {
      this.logger.error({ err: error, requestId }, 'request failed');
    }
    if (res.headersSent) {
      return;
    }
    if (exception.retryAfterMs !== undefined) {
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(exception.retryAfterMs / 1000))));
    }
    res
      .status(status)
      .type('application/problem+json')
      .send(
        JSON.stringify({
          type: `https://chat-backend.dev/problems/${exception.code.toLowerCase().replace(/_/g, '-')}`,
          title,
          status,
          detail: exception.message,
          code: exception.code,
          requestId,
          ...(exception.details ? { details: exception.details } : {}),
          ...(exception.retryAfterMs !== undefined ? { retryAfterMs: exception.retryAfterMs } : {}),
        }),
      );
  }
}
