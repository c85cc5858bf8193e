import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../../../config/app-config';

/** 64 KiB: a message of MESSAGE_MAX_LENGTH characters fits many times over; nothing larger is read. */
export const SOCKET_MAX_PAYLOAD_BYTES = 64 * 1024;

/** Socket.IO with the server's limits and allowed origins. */
export class ChatIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    return super.createIOServer(port, {
      ...options,
      maxHttpBufferSize: SOCKET_MAX_PAYLOAD_BYTES,
      cors: { origin: this.config.corsOrigins === '*' ? true : this.config.corsOrigins, credentials: false },
    }) as Server;
  }
}
