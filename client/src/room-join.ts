import type { ClientCalls } from './protocol';
import type { RoomState } from './room-state';

type Join = ClientCalls['room:join'];

const FIRST_LIMIT = 50;
const CATCH_UP_LIMIT = 100;

/**
 * How a room's next join reads: `first` its newest page; `rev` the change feed after the rev held (every message
 * changed since, in its current state); `seq` the messages after a position (a server without `rev`, a reply whose
 * streamed text is not a change, a hole the feed did not fill).
 */
export type JoinMode = 'first' | 'rev' | 'seq';

/** What to do after a join: nothing more, join again the same way, or join again by seq. */
export type JoinNext = 'done' | 'again' | 'seq';

export function joinModeOf(room: RoomState, bySeq: boolean): JoinMode {
  if (!room.isLoaded) {
    return 'first';
  }
  return room.followsRev && !bySeq ? 'rev' : 'seq';
}

export function joinPayload(room: RoomState, mode: JoinMode): Join['payload'] {
  switch (mode) {
    case 'first':
      return { roomId: room.roomId, limit: FIRST_LIMIT };
    case 'rev':
      return { roomId: room.roomId, limit: CATCH_UP_LIMIT, afterRev: room.lastRev };
    case 'seq':
      return { roomId: room.roomId, limit: CATCH_UP_LIMIT, afterSeq: room.resumeAfterSeq };
  }
}

/** Takes a join's ack into the room; says whether the room needs another join. */
export function applyJoin(room: RoomState, ack: Join['result'], mode: JoinMode): JoinNext {
  room.mergePage(ack.messages, { hasMore: ack.hasMore });
  room.setOnline(ack.online);
  if (mode === 'first') {
    room.settleRev(ack.room.lastRev); // read before the page: a change in between comes again, held once
  } else if (mode === 'rev') {
    // In rev order: every change up to the page's last one is held; the whole feed once it says no more.
    room.settleRev(ack.hasMore ? ack.messages.at(-1)?.rev : ack.lastRev);
  }
  if (room.hasGap && mode === 'rev' && !ack.hasMore) {
    return 'seq'; // the feed did not fill the hole: read it by position
  }
  if (mode === 'seq' && room.followsRev) {
    return 'again'; // then the feed: what else changed meanwhile (edits, deletes, reactions) is not in a seq page
  }
  return (mode !== 'first' && ack.hasMore) || room.hasRevGap || room.hasGap ? 'again' : 'done';
}
