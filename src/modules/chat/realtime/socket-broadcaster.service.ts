import { Inject, Injectable } from '@nestjs/common';
import type { BroadcastOperator, Namespace } from 'socket.io';
import type { MessageDto } from '../../../common/messages/message';
import { lastMessageOf } from '../../../common/messages/preview';
import { broadcastView } from '../../../common/messages/withheld';
import type {
  RealtimeBroadcaster,
  StoredMessageFacts,
  StoredMessageListener,
} from '../../../common/realtime/realtime-broadcaster';
import type { InboxEvents, RoomEvents, UserEvents } from '../../../common/realtime/server-events';
import { INSTANCE_ID, REDIS, type RedisConnections } from '../../cluster/cluster.tokens';
import { RoomFeed } from './room-feed.service';
import { blockersChannel, inboxChannel, instanceChannel, roomChannel, userChannel } from './socket-rooms';

/** The payloads are typed by the port's event maps; Socket.IO's own emit typing is not used here. */
type Target = BroadcastOperator<Record<string, (payload: unknown) => void>, unknown>;

/**
 * The RealtimeBroadcaster over Socket.IO rooms, on every instance. A room's message events and typing go
 * through the room feed (ordered by seq where they are received); every other event is emitted to this instance's
 * sockets at once and, with Redis, to the other instances' through the Socket.IO adapter (the Redis streams
 * adapter). The adapter itself would emit locally only after Redis took the message — late, and not at all
 * while Redis is away — so the remote emit excludes this instance's own channel. Every operation names
 * rooms, never iterates sockets.
 *
 * Every stored message (a new one, and an assistant reply's final status) is also told once to the room's
 * inbox — its members' sockets that have not joined the room — as `room:activity`, and to the listeners
 * (push notifications). A change to a stored message (edit, delete, reaction) is neither: it refreshes the inbox's
 * preview only when it is the room's last message, and never reaches the listeners. Only the instance that made
 * the change calls these, so each happens once.
 */
@Injectable()
export class SocketBroadcaster implements RealtimeBroadcaster {
  private namespace?: Namespace;
  private readonly self: string;
  private readonly listeners: StoredMessageListener[] = [];

  constructor(
    private readonly feed: RoomFeed,
    @Inject(REDIS) private readonly redis: RedisConnections | null,
    @Inject(INSTANCE_ID) instanceId: string,
  ) {
    this.self = instanceChannel(instanceId);
  }

  /** Called by the gateway once its namespace exists. */
  attach(namespace: Namespace): void {
    this.namespace = namespace;
    this.feed.attach(namespace);
  }

  /** The channel of this instance's sockets (each joins it when it connects). */
  get instanceChannel(): string {
    return this.self;
  }

  /** `listener` is told of every message stored here from now on (a new one, a reply's final status). */
  onStored(listener: StoredMessageListener): void {
    this.listeners.push(listener);
  }

  toRoom<E extends Exclude<keyof RoomEvents, 'message:new' | 'message:updated'>>(
    roomId: string,
    event: E,
    payload: RoomEvents[E],
    exceptProfileId?: string,
  ): void {
    if (event === 'message:delta' || event === 'typing') {
      const feedPayload = payload as RoomEvents['message:delta' | 'typing'];
      this.feed.publish({ roomId, event, payload: feedPayload, except: exceptProfileId });
      return;
    }
    const except = exceptProfileId ? [userChannel(exceptProfileId)] : [];
    this.everywhere(roomChannel(roomId), except, (target) => target.emit(event, payload));
  }

  toRoomInOrder(
    roomId: string,
    seq: number,
    event: 'message:new',
    payload: { message: MessageDto },
    facts: StoredMessageFacts = {},
  ): void {
    const message = broadcastView(payload.message);
    this.feed.publish({ roomId, event, payload: { message }, seq });
    this.stored(message, facts);
  }

  replyEnded(stored: MessageDto): void {
    const message = broadcastView(stored);
    this.feed.publish({ roomId: message.roomId, event: 'message:updated', payload: { message } });
    this.stored(message, {});
  }

  messageChanged(changed: MessageDto, lastSeq: number): void {
    const message = broadcastView(changed);
    this.feed.publish({ roomId: message.roomId, event: 'message:updated', payload: { message } });
    if (message.seq === lastSeq) {
      this.toInbox({ roomId: message.roomId, lastSeq, lastMessage: lastMessageOf(message) }, message.senderId);
    }
  }

  blockChanged(blockerId: string, blockedId: string, blocked: boolean): void {
    const channel = blockersChannel(blockedId);
    this.everywhere(userChannel(blockerId), [], (target) =>
      blocked ? target.socketsJoin(channel) : target.socketsLeave(channel),
    );
    this.toUser(blockerId, 'block:updated', { profileId: blockedId, blocked });
  }

  toUser<E extends keyof UserEvents>(profileId: string, event: E, payload: UserEvents[E]): void {
    this.everywhere(userChannel(profileId), [], (target) => target.emit(event, payload));
  }

  addToInbox(roomId: string, profileId: string): void {
    this.everywhere(userChannel(profileId), [], (target) => target.socketsJoin(inboxChannel(roomId)));
  }

  unsubscribeMember(roomId: string, profileId: string): Promise<void> {
    const channels = [roomChannel(roomId), inboxChannel(roomId)];
    this.everywhere(userChannel(profileId), [], (target) => target.socketsLeave(channels));
    return Promise.resolve();
  }

  unsubscribeAll(roomId: string): Promise<void> {
    this.everywhere(roomChannel(roomId), [], (target) => target.socketsLeave(roomChannel(roomId)));
    this.everywhere(inboxChannel(roomId), [], (target) => target.socketsLeave(inboxChannel(roomId)));
    return Promise.resolve();
  }

  /**
   * One emit to the room's inbox but its joined sockets, which have the message itself. The payload is the
   * same for everyone: each client tells its own messages by senderId. A streaming reply's creation is
   * activity too (the room moved); the listeners hear only of messages that reached their final status.
   */
  private stored(message: MessageDto, facts: StoredMessageFacts): void {
    this.toInbox(
      { roomId: message.roomId, lastSeq: message.seq, lastMessage: lastMessageOf(message) },
      message.senderId,
    );
    if (message.status !== 'streaming') {
      this.listeners.forEach((listener) => listener(message, facts));
    }
  }

  /** Not to the sockets that joined the room (they have the message), nor to those of people who blocked its sender. */
  private toInbox(activity: InboxEvents['room:activity'], senderId: string | null): void {
    const except = [roomChannel(activity.roomId), ...(senderId ? [blockersChannel(senderId)] : [])];
    this.everywhere(inboxChannel(activity.roomId), except, (target) => target.emit('room:activity', activity));
  }

  /** Applies `act` to the sockets in `channel` (but those in `except`): here at once, then on the other instances. */
  private everywhere(channel: string, except: string[], act: (target: Target) => void): void {
    const namespace = this.namespace;
    if (!namespace) {
      return;
    }
    act(namespace.local.to(channel).except(except) as Target);
    if (this.redis) {
      act(namespace.to(channel).except([...except, this.self]) as Target);
    }
  }
}
