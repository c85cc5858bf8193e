import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { MessageDto } from '../../common/messages/message';
import { SocketBroadcaster } from '../chat/realtime/socket-broadcaster.service';

/**
 * Push notifications for members who are away (PROTOCOL.md §8). The broadcaster calls `messageStored` once per
 * message stored on this instance: a user message when it is stored, an assistant reply at its final status.
 * It never throws and never delays the send.
 */
@Injectable()
export class PushService implements OnModuleInit {
  constructor(private readonly broadcaster: SocketBroadcaster) {}

  onModuleInit(): void {
    this.broadcaster.onStored((message) => this.messageStored(message));
  }

  messageStored(message: MessageDto): void {
    void message;
  }
}
