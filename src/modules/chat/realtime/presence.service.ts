import { Injectable } from '@nestjs/common';

/**
 * Who is online in which room, in this process: a member is online in a room while any of their
 * sockets is subscribed to it. Answers whether a change is a member's first or last socket.
 */
@Injectable()
export class PresenceService {
  /** roomId → profileId → number of that member's sockets subscribed to the room */
  private readonly rooms = new Map<string, Map<string, number>>();

  /** Counts one more socket; true when it is the member's first in the room. */
  add(roomId: string, profileId: string): boolean {
    let members = this.rooms.get(roomId);
    if (!members) {
      members = new Map();
      this.rooms.set(roomId, members);
    }
    const count = (members.get(profileId) ?? 0) + 1;
    members.set(profileId, count);
    return count === 1;
  }

  /** Counts one socket less; true when it was the member's last in the room. */
  remove(roomId: string, profileId: string): boolean {
    const members = this.rooms.get(roomId);
    const count = members?.get(profileId) ?? 0;
    if (!members || count === 0) {
      return false;
    }
    if (count > 1) {
      members.set(profileId, count - 1);
      return false;
    }
    members.delete(profileId);
    if (members.size === 0) {
      this.rooms.delete(roomId);
    }
    return true;
  }

  /** Forgets a whole room (deleted): its subscribers then leave without presence events. */
  forgetRoom(roomId: string): void {
    this.rooms.delete(roomId);
  }

  /** Every member online in a room. */
  online(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.keys() ?? [])];
  }
}
