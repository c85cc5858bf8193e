import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../../common/realtime/realtime-broadcaster';
import { INSTANCE_ID, REDIS, type RedisConnections } from '../../cluster/cluster.tokens';
import { InstanceRegistry } from '../../cluster/instance-registry.service';
import { LocalPresenceStore, RedisPresenceStore, type PresenceStore } from './presence.store';
import { TypingService } from './typing.service';

/**
 * Who is online, in a room (a member is online in a room while any of their sockets on any instance is
 * subscribed to it) and at all (any socket anywhere). This instance counts its own sockets and tells the
 * store of first and last ones; the store says whether that changes the member's presence everywhere, and
 * then the room hears it (`presence`). While Redis is away, this instance answers from its own sockets.
 */
@Injectable()
export class PresenceService implements OnModuleInit {
  /** roomId → profileId → this member's sockets subscribed to the room on this instance */
  private readonly rooms = new Map<string, Map<string, number>>();
  /** profileId → this user's sockets on this instance */
  private readonly users = new Map<string, number>();
  private readonly store: PresenceStore;
  /** The answers of this instance's own counts: the store without Redis, the fallback while Redis is away. */
  private readonly local = new LocalPresenceStore({ rooms: this.rooms, users: this.users });
  /** One change at a time per member and room, in the order they happened here. */
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(
    @InjectPinoLogger(PresenceService.name) private readonly logger: PinoLogger,
    @Inject(REDIS) redis: RedisConnections | null,
    @Inject(INSTANCE_ID) instanceId: string,
    private readonly registry: InstanceRegistry,
    private readonly typing: TypingService,
    @Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster,
  ) {
    this.store = redis ? new RedisPresenceStore(redis, instanceId, () => registry.aliveSince) : this.local;
  }

  onModuleInit(): void {
    if (this.store instanceof RedisPresenceStore) {
      const store = this.store;
      this.registry.onReap((instanceId) => this.reap(store, instanceId));
      this.registry.onRejoin(() => this.rewrite());
    }
  }

  /** A socket of the user connected here. */
  connected(profileId: string): void {
    const count = (this.users.get(profileId) ?? 0) + 1;
    this.users.set(profileId, count);
    void this.serially(`user:${profileId}`, async () => {
      if (count === 1) {
        await this.ask((s) => s.connect(profileId));
      }
      await this.ask((s) => s.setSockets(profileId, this.users.get(profileId) ?? 0));
    });
  }

  /** A socket of the user went away here; their last one anywhere ends their typing everywhere. */
  disconnected(profileId: string): void {
    const count = (this.users.get(profileId) ?? 1) - 1;
    if (count > 0) {
      this.users.set(profileId, count);
    } else {
      this.users.delete(profileId);
    }
    void this.serially(`user:${profileId}`, async () => {
      await this.ask((s) => s.setSockets(profileId, this.users.get(profileId) ?? 0));
      if (count === 0 && (await this.ask((s) => s.disconnect(profileId)))) {
        await this.typing.stopAll(profileId);
      }
    });
  }

  /** A socket of the member subscribed to the room here. */
  subscribed(roomId: string, profileId: string): void {
    let members = this.rooms.get(roomId);
    if (!members) {
      members = new Map();
      this.rooms.set(roomId, members);
    }
    const count = (members.get(profileId) ?? 0) + 1;
    members.set(profileId, count);
    if (count === 1) {
      void this.serially(`${roomId}:${profileId}`, async () => {
        if (await this.ask((s) => s.enterRoom(roomId, profileId))) {
          this.broadcaster.toRoom(roomId, 'presence', { roomId, profileId, online: true });
        }
      });
    }
  }

  /** A socket of the member left the room here (leave, removal, deletion, disconnect). */
  unsubscribed(roomId: string, profileId: string): void {
    const members = this.rooms.get(roomId);
    const count = members?.get(profileId) ?? 0;
    if (!members || count === 0) {
      return;
    }
    if (count > 1) {
      members.set(profileId, count - 1);
      return;
    }
    members.delete(profileId);
    if (members.size === 0) {
      this.rooms.delete(roomId);
    }
    void this.serially(`${roomId}:${profileId}`, () => this.wentOffline(roomId, profileId));
  }

  /** Forgets a whole room (deleted): its subscribers then leave without presence events. */
  forgetRoom(roomId: string): void {
    const members = [...(this.rooms.get(roomId)?.keys() ?? [])];
    this.rooms.delete(roomId);
    for (const profileId of members) {
      void this.serially(`${roomId}:${profileId}`, () => this.ask((s) => s.leaveRoom(roomId, profileId)));
    }
  }

  /** Resolves once this instance's last change of the member in the room has reached the store. */
  async settled(roomId: string, profileId: string): Promise<void> {
    await this.chains.get(`${roomId}:${profileId}`);
  }

  /** Every member online in the room, on any instance. */
  online(roomId: string): Promise<string[]> {
    return this.ask((s) => s.online(roomId));
  }

  /** The user's sockets on every instance (this instance's own while Redis is away). */
  socketCount(profileId: string): Promise<number> {
    return this.ask((s) => s.sockets(profileId));
  }

  private async wentOffline(roomId: string, profileId: string): Promise<void> {
    if (await this.ask((s) => s.leaveRoom(roomId, profileId))) {
      await this.typing.stop(roomId, profileId);
      this.broadcaster.toRoom(roomId, 'presence', { roomId, profileId, online: false });
    }
  }

  /** Another instance died: its members who are nowhere else go offline, and stop typing. */
  private async reap(store: RedisPresenceStore, instanceId: string): Promise<void> {
    const { rooms, users } = await store.takeOver(instanceId);
    for (const [roomId, members] of rooms) {
      const online = new Set(await store.online(roomId));
      for (const profileId of members.filter((id) => !online.has(id))) {
        await this.typing.stop(roomId, profileId);
        this.broadcaster.toRoom(roomId, 'presence', { roomId, profileId, online: false });
      }
    }
    for (const profileId of users) {
      if (!(await store.connected(profileId))) {
        await this.typing.stopAll(profileId);
      }
    }
    await this.typing.reap(instanceId);
  }

  /** This instance's state was lost from Redis (a restart, or it was taken for gone): write it again. */
  private async rewrite(): Promise<void> {
    for (const [profileId, count] of this.users) {
      await this.store.connect(profileId);
      await this.store.setSockets(profileId, count);
    }
    for (const [roomId, members] of this.rooms) {
      for (const profileId of members.keys()) {
        await this.store.enterRoom(roomId, profileId);
      }
    }
  }

  /** The store's answer; while Redis is away, this instance's own (it sees only its own sockets). */
  private async ask<T>(question: (store: PresenceStore) => Promise<T>): Promise<T> {
    try {
      return await question(this.store);
    } catch (error) {
      this.logger.warn({ err: error }, 'presence store unreachable: answering from this instance');
      return question(this.local);
    }
  }

  private serially(key: string, work: () => Promise<unknown>): Promise<unknown> {
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((error: unknown) => this.logger.error({ err: error }, 'presence change failed'));
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) {
        this.chains.delete(key);
      }
    });
    return next;
  }
}
