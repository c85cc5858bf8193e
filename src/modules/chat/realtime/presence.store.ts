import type { RedisConnections } from '../../cluster/cluster.tokens';
import { INSTANCES_KEY } from '../../cluster/instance-registry.service';

/**
 * Where presence is kept beyond this instance. This instance counts its own sockets (PresenceService) and
 * tells the store only of its members' first and last socket here, per room and per user; the store answers
 * whether that makes them online / offline across every instance.
 */
export interface PresenceStore {
  /** This instance has the member in the room now; true when no other instance had them there. */
  enterRoom(roomId: string, profileId: string): Promise<boolean>;
  /** This instance no longer has the member in the room; true when no other instance has them there. */
  leaveRoom(roomId: string, profileId: string): Promise<boolean>;
  /** This instance has a socket of the user now; true when no other instance had one. */
  connect(profileId: string): Promise<boolean>;
  /** This instance has no socket of the user any more; true when no other instance has one. */
  disconnect(profileId: string): Promise<boolean>;
  /** Every member online in the room, on any live instance. */
  online(roomId: string): Promise<string[]>;
  /** Whether the user has a socket on any live instance. */
  connected(profileId: string): Promise<boolean>;
  /** This instance holds `count` sockets of the user now. */
  setSockets(profileId: string, count: number): Promise<void>;
  /** The user's sockets on every live instance. */
  sockets(profileId: string): Promise<number>;
}

/** This instance's own sockets, as PresenceService counts them: per room, per member; per user. */
export interface LocalCounts {
  readonly rooms: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly users: ReadonlyMap<string, number>;
}

/**
 * One instance (no Redis), and any instance while Redis is away: the answers follow from this instance's own
 * counts, which PresenceService keeps anyway — a first or last socket here is a first or last socket at all.
 */
export class LocalPresenceStore implements PresenceStore {
  constructor(private readonly counts: LocalCounts) {}

  enterRoom(): Promise<boolean> {
    return Promise.resolve(true);
  }

  leaveRoom(): Promise<boolean> {
    return Promise.resolve(true);
  }

  connect(): Promise<boolean> {
    return Promise.resolve(true);
  }

  disconnect(): Promise<boolean> {
    return Promise.resolve(true);
  }

  online(roomId: string): Promise<string[]> {
    return Promise.resolve([...(this.counts.rooms.get(roomId)?.keys() ?? [])]);
  }

  connected(profileId: string): Promise<boolean> {
    return Promise.resolve(this.counts.users.has(profileId));
  }

  setSockets(): Promise<void> {
    return Promise.resolve();
  }

  sockets(profileId: string): Promise<number> {
    return Promise.resolve(this.counts.users.get(profileId) ?? 0);
  }
}

const PREFIX = 'chat:presence:';

/**
 * Changes this instance's set (add or remove one member) and answers whether any OTHER live instance's set
 * holds the member: atomically, so two instances changing at once agree on who was first or last.
 * ARGV: instance, set suffix, member, oldest live heartbeat, 'add' | 'remove', index suffix, index member.
 */
const CHANGE = `
local prefix, inst, suffix, member = '${PREFIX}', ARGV[1], ARGV[2], ARGV[3]
local found = 0
for _, other in ipairs(redis.call('ZRANGEBYSCORE', '${INSTANCES_KEY}', ARGV[4], '+inf')) do
  if other ~= inst and redis.call('SISMEMBER', prefix .. other .. ':' .. suffix, member) == 1 then
    found = 1
    break
  end
end
if ARGV[5] == 'add' then
  redis.call('SADD', prefix .. inst .. ':' .. suffix, member)
  if ARGV[6] ~= '' then redis.call('SADD', prefix .. inst .. ':' .. ARGV[6], ARGV[7]) end
else
  redis.call('SREM', prefix .. inst .. ':' .. suffix, member)
end
return found
`;

/** The union of every live instance's set. ARGV: set suffix, oldest live heartbeat. */
const UNION = `
local keys = {}
for _, inst in ipairs(redis.call('ZRANGEBYSCORE', '${INSTANCES_KEY}', ARGV[2], '+inf')) do
  table.insert(keys, '${PREFIX}' .. inst .. ':' .. ARGV[1])
end
if #keys == 0 then return {} end
return redis.call('SUNION', unpack(keys))
`;

/** The sum of one field over every live instance's hash. ARGV: hash suffix, field, oldest live heartbeat. */
const SUM = `
local total = 0
for _, inst in ipairs(redis.call('ZRANGEBYSCORE', '${INSTANCES_KEY}', ARGV[3], '+inf')) do
  total = total + tonumber(redis.call('HGET', '${PREFIX}' .. inst .. ':' .. ARGV[1], ARGV[2]) or '0')
end
return total
`;

/**
 * Presence across instances: each instance keeps its own sets (`chat:presence:<instance>:room:<id>`,
 * `…:users`, and `…:rooms`, the index a reaper walks), and only instances whose heartbeat is fresh count.
 * A crashed instance's sets stop counting when its heartbeat expires and are removed by the survivor that
 * reaps it; nothing a crash leaves behind keeps a member online.
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: RedisConnections,
    private readonly instanceId: string,
    private readonly aliveSince: () => number,
  ) {}

  async enterRoom(roomId: string, profileId: string): Promise<boolean> {
    return (await this.change(`room:${roomId}`, profileId, 'add', 'rooms', roomId)) === 0;
  }

  async leaveRoom(roomId: string, profileId: string): Promise<boolean> {
    return (await this.change(`room:${roomId}`, profileId, 'remove')) === 0;
  }

  async connect(profileId: string): Promise<boolean> {
    return (await this.change('users', profileId, 'add')) === 0;
  }

  async disconnect(profileId: string): Promise<boolean> {
    return (await this.change('users', profileId, 'remove')) === 0;
  }

  async online(roomId: string): Promise<string[]> {
    return (await this.redis.commands.eval(UNION, 0, `room:${roomId}`, this.aliveSince())) as string[];
  }

  async connected(profileId: string): Promise<boolean> {
    const everyone = (await this.redis.commands.eval(UNION, 0, 'users', this.aliveSince())) as string[];
    return everyone.includes(profileId);
  }

  async setSockets(profileId: string, count: number): Promise<void> {
    const key = `${PREFIX}${this.instanceId}:sockets`;
    await (count > 0 ? this.redis.commands.hset(key, profileId, count) : this.redis.commands.hdel(key, profileId));
  }

  async sockets(profileId: string): Promise<number> {
    return (await this.redis.commands.eval(SUM, 0, 'sockets', profileId, this.aliveSince())) as number;
  }

  /** A gone instance's members, room by room, and its users; then its sets are removed. */
  async takeOver(instanceId: string): Promise<{ rooms: Map<string, string[]>; users: string[] }> {
    const base = `${PREFIX}${instanceId}:`;
    const roomIds = await this.redis.commands.smembers(`${base}rooms`);
    const rooms = new Map<string, string[]>();
    for (const roomId of roomIds) {
      rooms.set(roomId, await this.redis.commands.smembers(`${base}room:${roomId}`));
    }
    const users = await this.redis.commands.smembers(`${base}users`);
    await this.redis.commands.del(
      `${base}rooms`,
      `${base}users`,
      `${base}sockets`,
      ...roomIds.map((id) => `${base}room:${id}`),
    );
    return { rooms, users };
  }

  private async change(
    suffix: string,
    member: string,
    op: 'add' | 'remove',
    index = '',
    indexMember = '',
  ): Promise<number> {
    return (await this.redis.commands.eval(
      CHANGE,
      0,
      this.instanceId,
      suffix,
      member,
      this.aliveSince(),
      op,
      index,
      indexMember,
    )) as number;
  }
}
