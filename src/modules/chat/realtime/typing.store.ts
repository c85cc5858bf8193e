import type { RedisConnections } from '../../cluster/cluster.tokens';

/**
 * Who is typing where, across instances. A member's typing in a room has one owner instance (the last one
 * that got their update), which ends it when it idles; any instance may end it earlier (a send, a leave).
 */
export interface TypingStore {
  /** Typing on (this instance owns it now); true when it was off. */
  start(roomId: string, profileId: string): Promise<boolean>;
  /** The owner's idle timer: typing off if this instance still owns it; true when it was ended here. */
  expire(roomId: string, profileId: string): Promise<boolean>;
  /** Typing off, whoever owns it; true when it was on. */
  stop(roomId: string, profileId: string): Promise<boolean>;
  /** The rooms the member is typing in. */
  roomsOf(profileId: string): Promise<string[]>;
  /** A gone instance's typings: ended; returns them as [roomId, profileId]. */
  takeOver(instanceId: string): Promise<[string, string][]>;
}

/** One instance: a set of room/member pairs. */
export class LocalTypingStore implements TypingStore {
  private readonly typing = new Map<string, Set<string>>();

  start(roomId: string, profileId: string): Promise<boolean> {
    let rooms = this.typing.get(profileId);
    if (!rooms) {
      rooms = new Set();
      this.typing.set(profileId, rooms);
    }
    const fresh = !rooms.has(roomId);
    rooms.add(roomId);
    return Promise.resolve(fresh);
  }

  expire(roomId: string, profileId: string): Promise<boolean> {
    return this.stop(roomId, profileId);
  }

  stop(roomId: string, profileId: string): Promise<boolean> {
    const rooms = this.typing.get(profileId);
    const was = rooms?.delete(roomId) ?? false;
    if (rooms?.size === 0) {
      this.typing.delete(profileId);
    }
    return Promise.resolve(was);
  }

  roomsOf(profileId: string): Promise<string[]> {
    return Promise.resolve([...(this.typing.get(profileId) ?? [])]);
  }

  takeOver(): Promise<[string, string][]> {
    return Promise.resolve([]);
  }
}

const KEY = (roomId: string, profileId: string) => `chat:typing:${roomId}:${profileId}`;
const USER_INDEX = (profileId: string) => `chat:typing:user:${profileId}`;
const INSTANCE_INDEX = (instanceId: string) => `chat:typing:instance:${instanceId}`;

/** Takes ownership; answers the previous owner ('' when typing was off). KEYS: key, user index, own index. */
const START = `
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
if previous and previous ~= ARGV[1] then redis.call('SREM', 'chat:typing:instance:' .. previous, ARGV[4]) end
return previous or ''
`;

/** Ends typing if ARGV[1] (an instance id, or '' for anyone) owns it. KEYS: key, user index. */
const END = `
local owner = redis.call('GET', KEYS[1])
if not owner or (ARGV[1] ~= '' and owner ~= ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SREM', 'chat:typing:instance:' .. owner, ARGV[3])
return 1
`;

/**
 * Typing across instances: one key per member and room holding its owner instance, with a TTL long enough
 * for a reaper to find it if the owner dies (idle time + instance TTL); indexes per member (their last
 * socket anywhere ends all their typing) and per owner (a gone owner's typings are ended by its reaper).
 */
export class RedisTypingStore implements TypingStore {
  constructor(
    private readonly redis: RedisConnections,
    private readonly instanceId: string,
    private readonly ttlMs: number,
  ) {}

  async start(roomId: string, profileId: string): Promise<boolean> {
    const previous = (await this.redis.commands.eval(
      START,
      3,
      KEY(roomId, profileId),
      USER_INDEX(profileId),
      INSTANCE_INDEX(this.instanceId),
      this.instanceId,
      this.ttlMs,
      roomId,
      `${roomId}:${profileId}`,
    )) as string;
    return previous === '';
  }

  expire(roomId: string, profileId: string): Promise<boolean> {
    return this.end(roomId, profileId, this.instanceId);
  }

  stop(roomId: string, profileId: string): Promise<boolean> {
    return this.end(roomId, profileId, '');
  }

  roomsOf(profileId: string): Promise<string[]> {
    return this.redis.commands.smembers(USER_INDEX(profileId));
  }

  async takeOver(instanceId: string): Promise<[string, string][]> {
    const entries = await this.redis.commands.smembers(INSTANCE_INDEX(instanceId));
    const ended: [string, string][] = [];
    for (const entry of entries) {
      const [roomId, profileId] = entry.split(':');
      if (await this.end(roomId, profileId, instanceId)) {
        ended.push([roomId, profileId]);
      }
    }
    await this.redis.commands.del(INSTANCE_INDEX(instanceId));
    return ended;
  }

  private async end(roomId: string, profileId: string, owner: string): Promise<boolean> {
    const ended = (await this.redis.commands.eval(
      END,
      2,
      KEY(roomId, profileId),
      USER_INDEX(profileId),
      owner,
      roomId,
      `${roomId}:${profileId}`,
    )) as number;
    return ended === 1;
  }
}
