import type { InboxEntry, Room } from '../../client/src';
import { button, el } from './dom';
import { previewText } from './withheld-view';

/**
 * The room list: the caller's rooms from the SDK's inbox, the most recently active first, each with its unread count
 * and last message; then the public rooms to join.
 */
export class RoomsView {
  constructor(
    private readonly mine: HTMLUListElement,
    private readonly publicList: HTMLUListElement,
    private readonly onJoin: (room: Room) => void,
  ) {}

  showMine(entries: readonly InboxEntry[], openId: string | undefined, myId: string | undefined): void {
    const sorted = [...entries].sort(
      (a, b) => activityOf(b).localeCompare(activityOf(a)) || (a.room?.name ?? '').localeCompare(b.room?.name ?? ''),
    );
    const items = sorted.map((entry) => {
      const item = el('li', 'room-item');
      item.dataset.roomId = entry.roomId;
      const link = el('a');
      link.href = `#/rooms/${encodeURIComponent(entry.roomId)}`;
      link.append(el('span', 'room-name', entry.room?.name ?? 'Room'));
      if (entry.roomId === openId) {
        link.setAttribute('aria-current', 'page');
      }
      const unread = entry.roomId === openId ? 0 : entry.unread;
      item.classList.toggle('has-unread', unread > 0);
      let described: HTMLElement | undefined;
      if (unread > 0) {
        // The count shows in the link; people using a screen reader hear it as the link's description.
        const badge = el('span', 'badge', unread >= 100 ? '99+' : String(unread));
        badge.setAttribute('aria-hidden', 'true');
        link.append(badge);
        described = el('span', 'visually-hidden', `${unread} unread`);
        described.id = `unread-${entry.roomId}`;
        link.setAttribute('aria-describedby', described.id);
      }
      if (entry.lastMessage) {
        const who =
          entry.lastMessage.role === 'assistant' ? 'AI: ' : entry.lastMessage.senderId === myId ? 'You: ' : '';
        const preview = el('span', 'preview', `${who}${previewText(entry.lastMessage)}`);
        preview.setAttribute('aria-hidden', 'true');
        link.append(preview);
      }
      item.append(link);
      if (described) {
        item.append(described);
      }
      return item;
    });
    if (items.length === 0) {
      items.push(el('li', 'muted', 'No rooms yet: create one or join a public one.'));
    }
    this.mine.replaceChildren(...items);
  }

  showPublic(rooms: readonly Room[], mineIds: ReadonlySet<string>): void {
    const items = rooms
      .filter((room) => !mineIds.has(room.id))
      .map((room) => {
        const item = el('li', 'room-item row spread');
        item.append(
          el('span', 'room-name', room.name),
          button('Join', 'small secondary', () => this.onJoin(room), `Join ${room.name}`),
        );
        return item;
      });
    if (items.length === 0) {
      items.push(el('li', 'muted', 'None to join.'));
    }
    this.publicList.replaceChildren(...items);
  }
}

function activityOf(entry: InboxEntry): string {
  return entry.lastMessage?.createdAt ?? entry.room?.createdAt ?? '';
}
