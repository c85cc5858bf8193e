import type { Connection } from './connection';
import { Emitter } from './emitter';
import type { ClientEvents, InboxEntry } from './events';
import { Inbox } from './inbox';
import type { Message, Room } from './protocol';

const ME = 'me-0000';
const ROOM = 'room-1';

/** A connection whose socket the test drives: `deliver(event, payload)` is the server speaking. */
function setUp(room: Partial<Room>): {
  inbox: Inbox;
  deliver: (event: string, payload: unknown) => void;
  seen: InboxEntry[];
} {
  const socket = new Emitter<Record<string, unknown>>();
  const connection = {
    socket: { on: (event: string, listener: (payload: unknown) => void) => socket.on(event, listener) },
    userId: ME,
    http: () =>
      Promise.resolve({ rooms: [{ id: ROOM, lastSeq: 1, lastMessage: null, unread: 0, lastReadSeq: 1, ...room }] }),
    report: () => undefined,
  } as unknown as Connection;
  const emitter = new Emitter<ClientEvents>();
  const seen: InboxEntry[] = [];
  emitter.on('inbox', (entry) => seen.push(entry));
  const inbox = new Inbox(connection, emitter, () => undefined);
  return { inbox, deliver: (event, payload) => socket.emit(event, payload), seen };
}

function message(fields: Partial<Message>): Message {
  return {
    id: `m-${fields.seq}`,
    roomId: ROOM,
    seq: 2,
    role: 'user',
    senderId: 'someone-else',
    content: '',
    status: 'complete',
    clientId: null,
    replyToId: null,
    createdAt: '2026-11-30T19:00:00.000Z',
    updatedAt: '2026-11-30T19:00:00.000Z',
    ...fields,
  };
}

describe(Inbox.name, () => {
  it('should count a joined room’s new message from someone else and take its preview', async () => {
    const { inbox, deliver } = setUp({});
    await inbox.load();

    deliver('message:new', { message: message({ seq: 2, content: 'hello' }) });

    expect(inbox.list[0]).toMatchObject({ lastSeq: 2, unread: 1, lastMessage: { seq: 2, preview: 'hello' } });
  });

  it('should give the last message the final text of a reply that streamed in a joined room, counting it once', async () => {
    const { inbox, deliver } = setUp({});
    await inbox.load();

    deliver('message:new', { message: message({ seq: 2, role: 'assistant', senderId: null, status: 'streaming' }) });
    deliver('message:updated', {
      message: message({ seq: 2, role: 'assistant', senderId: null, content: 'The answer' }),
    });

    expect(inbox.list[0]).toMatchObject({
      unread: 1,
      lastMessage: { seq: 2, role: 'assistant', preview: 'The answer' },
    });
  });

  it('should leave the last message alone when an older message changes', async () => {
    const { inbox, deliver } = setUp({});
    await inbox.load();
    deliver('message:new', { message: message({ seq: 3, content: 'newest' }) });

    deliver('message:updated', { message: message({ seq: 2, content: 'older reply' }) });

    expect(inbox.list[0]).toMatchObject({ lastSeq: 3, unread: 1, lastMessage: { seq: 3, preview: 'newest' } });
  });

  it('should cut a joined room’s preview at 140 characters without splitting one, as the server does', async () => {
    const { inbox, deliver } = setUp({});
    await inbox.load();

    deliver('message:new', { message: message({ seq: 2, content: `${'😀'.repeat(100)}${'x'.repeat(100)}` }) });

    expect(inbox.list[0].lastMessage?.preview).toBe(`${'😀'.repeat(100)}${'x'.repeat(40)}`);
  });

  it('should keep the caller’s own role, mute and counts when room:updated (which carries none of them) renames the room', async () => {
    const { inbox, deliver } = setUp({ name: 'old', myRole: 'owner', muted: true, unread: 2, lastReadSeq: 1 });
    await inbox.load();

    deliver('room:updated', {
      room: { id: ROOM, name: 'new', lastSeq: 1, myRole: null, muted: null, unread: null, lastReadSeq: null },
    });

    expect(inbox.list[0].room).toMatchObject({ name: 'new', myRole: 'owner', muted: true, unread: 2, lastReadSeq: 1 });
  });

  it('should not count the caller’s own message, and move their pointer to it', async () => {
    const { inbox, deliver } = setUp({ unread: 3, lastReadSeq: 0 });
    await inbox.load();

    deliver('room:activity', {
      roomId: ROOM,
      lastSeq: 2,
      lastMessage: { seq: 2, role: 'user', senderId: ME, preview: 'mine', createdAt: '2026-11-30T19:00:00.000Z' },
    });

    expect(inbox.list[0]).toMatchObject({ unread: 0, lastReadSeq: 2 });
  });
});
