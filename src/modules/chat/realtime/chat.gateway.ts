import {
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
  WebSocketGateway,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import type { DefaultEventsMap } from 'socket.io/dist/typed-events';
import type { ServerToClientEvents } from '../../../common/realtime/server-events';
import { AppException } from '../../../common/errors/app.exception';
import { validateFast } from '../../../common/validation/fast-payload';
import { validatePayload } from '../../../common/validation/validate-payload';
import { SocketAuthMiddleware } from '../../auth/socket-auth.middleware';
import { MetricsService } from '../../metrics/metrics.service';
import { userActor, type UserActor } from '../../persistence/database.port';
import { MessageSenderService } from '../message-sender.service';
import { MessageChangesService } from '../message-changes.service';
import {
  DeleteMessageEvent,
  EditMessageEvent,
  JoinRoomEvent,
  LeaveRoomEvent,
  ReactionEvent,
  ReadRoomEvent,
  RefreshSessionEvent,
  SEND_MESSAGE_EVENT,
  StopReplyEvent,
  TYPING_EVENT,
} from './dto/chat-events.dto';
import { FloodGuard } from './flood-guard.service';
import { PresenceService } from './presence.service';
import { RoomSessionService, type Subscription } from './room-session.service';
import { SocketBroadcaster } from './socket-broadcaster.service';
import { SocketCapMiddleware } from './socket-cap.middleware';
import { SocketEventRunner } from './socket-event-runner.service';
import { bindEvents, type EventWork } from './socket-events';
import { SocketSessionService, type SessionData } from './socket-session.service';
import { DrainService } from '../drain.service';
import { RoomsService } from '../rooms.service';
import { blockersChannel, CHAT_NAMESPACE, inboxChannel, roomChannel, roomIdOf, userChannel } from './socket-rooms';
import { BlocksService } from '../blocks/blocks.service';

type ChatSocket = Socket<DefaultEventsMap, ServerToClientEvents, DefaultEventsMap, SessionData>;

/**
 * The realtime side of PROTOCOL.md §4, as thin as a controller: the handshake is authenticated by
 * SocketAuthMiddleware; each event is validated and handed to its service, and answered through its ack
 * exactly once (SocketEventRunner). Subscriptions are followed for presence, whatever causes them.
 */
@WebSocketGateway({ namespace: CHAT_NAMESPACE })
export class ChatGateway implements OnGatewayInit<Namespace>, OnGatewayConnection, OnGatewayDisconnect {
  /**
   * PROTOCOL.md §4's client events and their work, bound on every socket as it connects (socket-events.ts); each runs
   * through SocketEventRunner, which answers its ack.
   */
  private readonly events: Readonly<Record<string, EventWork<ChatSocket>>> = {
    'room:join': (socket, payload) => this.join(socket, payload),
    'room:leave': (socket, payload) => this.leave(socket, payload),
    'room:read': (socket, payload) => this.read(socket, payload),
    'message:send': (socket, payload) => this.send(socket, payload),
    'message:edit': (socket, payload) => this.edit(socket, payload),
    'message:delete': (socket, payload) => this.remove(socket, payload),
    'reaction:add': (socket, payload) => this.react(socket, payload, true),
    'reaction:remove': (socket, payload) => this.react(socket, payload, false),
    'typing:update': (socket, payload) => this.typingUpdate(socket, payload),
    'ai:stop': (socket, payload) => this.stopReply(socket, payload),
    'ai:regenerate': (socket, payload) => this.regenerate(socket, payload),
    'auth:refresh': (socket, payload) => this.refreshSession(socket, payload),
  };

  constructor(
    private readonly auth: SocketAuthMiddleware,
    private readonly broadcaster: SocketBroadcaster,
    private readonly runner: SocketEventRunner,
    private readonly sender: MessageSenderService,
    private readonly session: RoomSessionService,
    private readonly presence: PresenceService,
    private readonly metrics: MetricsService,
    private readonly flood: FloodGuard,
    private readonly cap: SocketCapMiddleware,
    private readonly drain: DrainService,
    private readonly sessions: SocketSessionService,
    private readonly rooms: RoomsService,
    private readonly changes: MessageChangesService,
    private readonly blocks: BlocksService,
  ) {}

  afterInit(namespace: Namespace): void {
    this.broadcaster.attach(namespace);
    this.drain.attach(namespace);
    namespace.use(this.auth.use);
    namespace.use(this.cap.use);
    // The socket's inbox: the rooms whose activity it hears without joining them, read before it is connected.
    // And the people its user blocked: their messages reach it as placeholders (a channel per person).
    namespace.use((socket, next) => {
      const data = socket.data as SessionData;
      const actor = userActor(data.user.id, data.user.claims, data.user.accessToken);
      void Promise.allSettled([this.session.inboxRooms(actor), this.blocks.blockedIds(actor)]).then(
        ([rooms, blocked]) => {
          data.inboxRoomIds = rooms.status === 'fulfilled' ? rooms.value : [];
          data.blockedIds = blocked.status === 'fulfilled' ? blocked.value : [];
          next();
        },
      );
    });
    // Presence follows subscriptions whatever causes them: join, leave, removal, deletion, disconnect. The
    // adapter tells of this instance's sockets only; a socket is still in the namespace while it leaves all.
    const follow = (joined: boolean) => (channel: string, socketId: string) => {
      const roomId = roomIdOf(channel);
      const profileId = (namespace.sockets.get(socketId)?.data as SessionData | undefined)?.user.id;
      if (!roomId || !profileId) {
        return;
      }
      if (joined) {
        this.presence.subscribed(roomId, profileId);
      } else {
        this.presence.unsubscribed(roomId, profileId);
      }
    };
    namespace.adapter.on('join-room', follow(true));
    namespace.adapter.on('leave-room', follow(false));
  }

  handleConnection(socket: ChatSocket): void {
    bindEvents(socket, this.events, (event, work) => this.runner.run(event, socket, work));
    const { user } = socket.data;
    this.presence.connected(user.id);
    const inbox = (socket.data.inboxRoomIds ?? []).map(inboxChannel);
    const blocked = (socket.data.blockedIds ?? []).map(blockersChannel);
    socket.data.inboxRoomIds = undefined;
    socket.data.blockedIds = undefined;
    void socket.join([userChannel(user.id), this.broadcaster.instanceChannel, ...inbox, ...blocked]);
    this.metrics.socketsConnected.inc();
    this.sessions.start(socket);
  }

  handleDisconnect(socket: ChatSocket): void {
    this.sessions.end(socket);
    this.flood.forget(socket.id);
    this.presence.disconnected(socket.data.user.id);
    this.metrics.socketsConnected.dec();
  }

  private async join(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, afterSeq, afterRev, limit } = await validatePayload(JoinRoomEvent, payload);
    if (afterSeq !== undefined && afterRev !== undefined) {
      throw AppException.validation([{ field: 'afterRev', message: 'must not be sent with afterSeq' }]);
    }
    const page = { afterSeq, afterRev, limit };
    return this.session.join(this.actorOf(socket), roomId, page, subscription(socket, roomId));
  }

  private async leave(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId } = await validatePayload(LeaveRoomEvent, payload);
    await socket.leave(roomChannel(roomId));
    return {};
  }

  private async read(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, seq } = await validatePayload(ReadRoomEvent, payload);
    return this.rooms.markRead(this.actorOf(socket), roomId, seq);
  }

  private async send(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, content, clientId } = validateFast(SEND_MESSAGE_EVENT, payload);
    return this.sender.send(this.actorOf(socket), roomId, content, clientId, 'socket');
  }

  private async edit(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, messageId, content, rerun } = await validatePayload(EditMessageEvent, payload);
    return this.changes.edit(this.actorOf(socket), roomId, messageId, content, rerun);
  }

  private async remove(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, messageId } = await validatePayload(DeleteMessageEvent, payload);
    return { message: await this.changes.delete(this.actorOf(socket), roomId, messageId) };
  }

  private async typingUpdate(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, isTyping } = validateFast(TYPING_EVENT, payload);
    await this.session.typingUpdate(this.actorOf(socket), roomId, isTyping, subscription(socket, roomId));
    return {};
  }

  private async stopReply(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, messageId } = await validatePayload(StopReplyEvent, payload);
    await this.session.stopReply(this.actorOf(socket), roomId, messageId);
    return {};
  }

  private async regenerate(socket: ChatSocket, payload: unknown): Promise<object> {
    const { roomId, messageId } = await validatePayload(StopReplyEvent, payload);
    return this.changes.regenerate(this.actorOf(socket), roomId, messageId);
  }

  private async refreshSession(socket: ChatSocket, payload: unknown): Promise<object> {
    const { token } = await validatePayload(RefreshSessionEvent, payload);
    return this.sessions.renew(socket, token);
  }

  private async react(socket: ChatSocket, payload: unknown, add: boolean): Promise<object> {
    const { roomId, messageId, emoji } = await validatePayload(ReactionEvent, payload);
    return { message: await this.changes.react(this.actorOf(socket), roomId, messageId, emoji, add) };
  }

  private actorOf(socket: ChatSocket): UserActor {
    return userActor(socket.data.user.id, socket.data.user.claims, socket.data.user.accessToken);
  }
}

function subscription(socket: ChatSocket, roomId: string): Subscription {
  const channel = roomChannel(roomId);
  return {
    subscribe: () => Promise.resolve(socket.join(channel)),
    unsubscribe: () => Promise.resolve(socket.leave(channel)),
    get subscribed() {
      return socket.rooms.has(channel);
    },
  };
}
