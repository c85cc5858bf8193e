import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fromBodyParser } from './common/errors/to-app-exception';
import { ProblemDetailsFilter } from './common/http/problem-details.filter';
import { coalesceWrites } from './common/realtime/coalesced-writes';
import { requestIdFor } from './common/http/request-id';
import { securityHeaders } from './common/http/security-headers';
import { createValidationPipe } from './common/http/validation.pipe';
import type { AppConfig } from './config/app-config';
import { DrainService } from './modules/chat/drain.service';
import { ChatIoAdapter } from './modules/chat/realtime/chat-io.adapter';

export const BODY_LIMIT = '64kb';
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
/** `public/` at the project root (the same depth from src/ and dist/). */
export const PUBLIC_DIR = join(__dirname, '..', 'public');

/** Everything an app instance needs before it listens; shared by main.ts and the e2e tests. */
export async function configureApp(app: NestExpressApplication, config: AppConfig): Promise<void> {
  app.useLogger(app.get(Logger));
  app.use(securityHeaders);
  app.use(app.get(DrainService).closeConnections);
  app.useBodyParser('json', { limit: BODY_LIMIT });
  // The JSON parser's errors, mapped before Nest's router does: it turns a body that is not JSON into a bare 400
  // (RoutesResolver.mapExternalException) and the contract's `details: [{ field: "body" }]` would be lost.
  app.use((error: unknown, _req: IncomingMessage, _res: ServerResponse, next: (error?: unknown) => void) => {
    next(fromBodyParser(error) ?? error);
  });
  app.useGlobalFilters(new ProblemDetailsFilter(await app.resolve(PinoLogger)));
  app.useGlobalPipes(createValidationPipe());
  app.useWebSocketAdapter(new ChatIoAdapter(app, config));
  // Each connection's writes of one run of callbacks leave in one system call (a send's ack and its message:new).
  app.getHttpServer().on('connection', coalesceWrites);
  app.enableCors({
    origin: config.corsOrigins === '*' ? true : config.corsOrigins,
    exposedHeaders: ['x-request-id', 'retry-after'],
  });
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  // Every response carries its request id, those of routes outside Nest's router (the docs) included.
  app.use((req: IncomingMessage, res: ServerResponse, next: () => void) => {
    requestIdFor(req, res);
    next();
  });

  // The demo client (public/index.html) at /, using only the public contract.
  app.useStaticAssets(PUBLIC_DIR, {
    index: 'index.html',
    maxAge: 0,
    // The page needs nothing but its own origin: a second wall against injected markup.
    setHeaders: (res: ServerResponse) => {
      res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    },
  });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Chat backend')
      .setDescription('Realtime chat with streamed AI replies. The wire contract is docs/PROTOCOL.md.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
