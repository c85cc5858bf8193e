import { Inject } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { Namespace, Socket } from 'socket.io';
import type { DefaultEventsMap } from 'socket.io/dist/typed-events';
import { AppException } from '../../../common/errors/app.exception';
import { ErrorCode } from '../../../common/errors/error-code';
import { RateLimiter } from '../../../common/rate-limit/rate-limiter.service';
import { validatePayload } from '../../../common/validation/validate-payload';
import { APP_CONFIG, type AppConfig } from '../../../config/app-config';
import type { AuthUser } from '../../auth/auth-user';
import { InvalidTokenError, TOKEN_VERIFIER, type TokenVerifier } from '../../auth/token.service';
import { AiReplyService } from '../../ai/ai-reply.service';
import { MetricsService } from '../../metrics/metrics.service';
import { userActor, type UserActor } from '../../persistence/database.port';
import { MessageSenderService } from '../message-sender.service';
import { MessagesRepository } from '../messages.repository';
import { RoomsRepository } from '../rooms.repository';
import { JoinRoomEvent, LeaveRoomEvent, SendMessageEvent, StopReplyEvent, TypingEvent } from './dto/chat-events.dto';
import { PresenceService } from './presence.service';
import { SocketBroadcaster } from './socket-broadcaster.service';
import { SocketEventRunner, type Ack, type ErrorAck } from './socket-event-runner.service';
import { CHAT_NAMESPACE, roomChannel, userChannel } from './socket-rooms';
import { TypingService } from './typing.service';

interface SocketData {
  user: AuthUser;
  expiryTimer?: NodeJS.Timeout;
}
type ChatSocket = Socket<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>;

const TYPING_WINDOW_MS = 10_000;
/** setTimeout takes at most 2^31 - 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The realtime side of PROTOCOL.md §4. The handshake is authenticated in namespace middleware (guards do
 * not run on connect); each event is validated, authorized and answered through its ack exactly once.
 */
@WebSocketGateway({ namespace: CHAT_NAMESPACE })
export class ChatGateway implements OnGatewayInit<Namespace>, OnGatewayConnection, OnGatewayDisconnect {
  private namespace!: Namespace;
  /** socket id → member, kept until the socket's rooms are left on disconnect */
  private readonly owners = new Map<string, string>();
  /** member → sockets connected to this process */
  private readonly connections = new Map<string, number>();

  constructor(
    @InjectPinoLogger(ChatGateway.name) private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(TOKEN_VERIFIER) private readonly tokens: TokenVerifier,
    private readonly broadcaster: SocketBroadcaster,
    private readonly runner: SocketEventRunner,
    private readonly rooms: RoomsRepository,
    private readonly messages: MessagesRepository,
    private readonly sender: MessageSenderService,
    private readonly presence: PresenceService,
    private readonly typing: TypingService,
    private readonly rateLimiter: RateLimiter,
    private readonly metrics: MetricsService,
    private readonly aiReplies: AiReplyService,
  ) {}

  afterInit(namespace: Namespace): void {
    this.namespace = namespace;
    this.broadcaster.attach(namespace);
    namespace.use((socket, next) => {
      this.authenticate(socket as ChatSocket).then(
        () => next(),
        (error: unknown) => next(error as Error),
      );
    });
    // Presence follows subscriptions whatever causes them: join, leave, removal, deletion, disconnect.
    namespace.adapter.on('join-room', (room: string, socketId: string) => this.onSubscribed(room, socketId, true));
    namespace.adapter.on('leave-room', (room: string, socketId: string) => this.onSubscribed(room, socketId, false));
  }

  handleConnection(socket: ChatSocket): void {
    const { user } = socket.data;
    this.owners.set(socket.id, user.id);
    this.connections.set(user.id, (this.connections.get(user.id) ?? 0) + 1);
    void socket.join(userChannel(user.id));
    this.metrics.socketsConnected.inc();
    const remaining = Math.min(Math.max(user.expiresAt - Date.now(), 0), MAX_TIMER_MS);
    socket.data.expiryTimer = setTimeout(() => {
      socket.emit('session:expired', { code: ErrorCode.UNAUTHENTICATED, message: 'The session expired' });
      socket.disconnect(true);
    }, remaining);
  }

  handleDisconnect(socket: ChatSocket): void {
    clearTimeout(socket.data.expiryTimer);
    this.owners.delete(socket.id);
    const profileId = socket.data.user.id;
    const left = (this.connections.get(profileId) ?? 1) - 1;
    if (left > 0) {
      this.connections.set(profileId, left);
    } else {
      // Their last socket: no typing indicator of theirs may outlive it, joined room or not.
      this.connections.delete(profileId);
      this.typing.stopAll(profileId);
    }
    this.metrics.socketsConnected.dec();
  }

  @SubscribeMessage('room:join')
  join(@ConnectedSocket() socket: ChatSocket, @MessageBody() payload: unknown): Promise<Ack | ErrorAck> {
    return this.runner.run('room:join', socket.data.user.id, async () => {
      const { roomId, afterSeq, limit } = await validatePayload(JoinRoomEvent, payload);
      const actor = this.actorOf(socket);
      const room = await this.rooms.get(actor, roomId);
      if (room.myRole === null) {
        throw AppException.notFound('Room');
      }
      // Subscribe first, then read: a message stored in between arrives as an event or in the backlog.
      await socket.join(roomChannel(roomId));
      try {
        const page = await this.messages.page(actor, roomId, { afterSeq, limit: limit ?? 50 });
        // A reply still streaming comes with the text its deltas have carried so far.
        const messages = page.messages.map((m) =>
          m.status === 'streaming' ? { ...m, content: this.aiReplies.partial(m.id) ?? m.content } : m,
        );
        // Who is online in the room now; `presence` events tell the changes from here on.
        return { room, messages, hasMore: page.hasMore, online: this.presence.online(roomId) };
      } catch (error) {
        await socket.leave(roomChannel(roomId));
        throw error;
      }
    });
  }

  @SubscribeMessage('room:leave')
  leave(@ConnectedSocket() socket: ChatSocket, @MessageBody() payload: unknown): Promise<Ack | ErrorAck> {
    return this.runner.run('room:leave', socket.data.user.id, async () => {
      const { roomId } = await validatePayload(LeaveRoomEvent, payload);
      await socket.leave(roomChannel(roomId));
      return {};
    });
  }

  @SubscribeMessage('message:send')
  send(@ConnectedSocket() socket: ChatSocket, @MessageBody() payload: unknown): Promise<Ack | ErrorAck> {
    return this.runner.run('message:send', socket.data.user.id, async () => {
      const { roomId, content, clientId } = await validatePayload(SendMessageEvent, payload);
      return this.sender.send(this.actorOf(socket), roomId, content, clientId, 'socket');
    });
  }

  @SubscribeMessage('typing:update')
  typingUpdate(@ConnectedSocket() socket: ChatSocket, @MessageBody() payload: unknown): Promise<Ack | ErrorAck> {
    return this.runner.run('typing:update', socket.data.user.id, async () => {
      const { roomId, isTyping } = await validatePayload(TypingEvent, payload);
      const { user } = socket.data;
      const rate = await this.rateLimiter.consume('typing', user.id, this.config.rates.typingPer10s, TYPING_WINDOW_MS);
      if (!rate.allowed) {
        throw AppException.rateLimited(rate.retryAfterMs);
      }
      // A subscribed socket proved membership at join (removal unsubscribes it); otherwise ask the database.
      if (!socket.rooms.has(roomChannel(roomId))) {
        const room = await this.rooms.get(this.actorOf(socket), roomId);
        if (room.myRole === null) {
          throw AppException.notFound('Room');
        }
      }
      this.typing.update(roomId, user.id, isTyping);
      return {};
    });
  }

  @SubscribeMessage('ai:stop')
  stopReply(@ConnectedSocket() socket: ChatSocket, @MessageBody() payload: unknown): Promise<Ack | ErrorAck> {
    return this.runner.run('ai:stop', socket.data.user.id, async () => {
      const { roomId, messageId } = await validatePayload(StopReplyEvent, payload);
      // Members only, and only assistant messages of that room; one that already ended stays as it is.
      const message = await this.messages.get(this.actorOf(socket), roomId, messageId);
      if (!message || message.role !== 'assistant') {
        throw AppException.notFound('Assistant message');
      }
      this.aiReplies.stop(roomId, messageId);
      return {};
    });
  }

  private async authenticate(socket: ChatSocket): Promise<void> {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const header = /^Bearer\s+(\S+)\s*$/i.exec(socket.handshake.headers.authorization ?? '')?.[1];
    const token = typeof auth?.token === 'string' ? auth.token : header;
    try {
      if (!token) {
        throw new InvalidTokenError('Send a token: io(url, { auth: { token } })');
      }
      socket.data.user = await this.tokens.verify(token);
    } catch (error) {
      if (!(error instanceof InvalidTokenError) && !(error instanceof AppException)) {
        this.logger.error({ err: error }, 'socket authentication failed');
      }
      const message = error instanceof InvalidTokenError ? error.message : 'Authentication failed';
      const refusal = new Error(ErrorCode.UNAUTHENTICATED) as Error & { data: unknown };
      refusal.data = { code: ErrorCode.UNAUTHENTICATED, message };
      throw refusal;
    }
  }

  private onSubscribed(room: string, socketId: string, joined: boolean): void {
    if (!room.startsWith('room:')) {
      return;
    }
    const profileId = this.owners.get(socketId);
    if (!profileId) {
      return;
    }
    const roomId = room.slice('room:'.length);
    if (joined) {
      if (this.presence.add(roomId, profileId)) {
        this.broadcaster.toRoom(roomId, 'presence', { roomId, profileId, online: true });
      }
    } else if (this.presence.remove(roomId, profileId)) {
      this.typing.stop(roomId, profileId);
      this.broadcaster.toRoom(roomId, 'presence', { roomId, profileId, online: false });
    }
  }

  private actorOf(socket: ChatSocket): UserActor {
    return userActor(socket.data.user.id, socket.data.user.claims, socket.data.user.accessToken);
  }
}
