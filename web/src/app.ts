import { connect, type ChatClient, type InboxEntry, type Message, type Room } from '../../client/src';
import { createApi, type Api, type Profile } from './api';
import { Composer } from './composer';
import type { ConnectionView } from './connection-view';
import { byId, field, reportError as report, showAlert } from './dom';
import { clientActions } from './message-actions-view';
import { MessagesView } from './messages-view';
import { RoomsView } from './rooms-view';
import type { SessionStore } from './session';
import { describeRoom, SettingsView } from './settings-view';
import { withheldNotice } from './withheld-view';

/**
 * The signed-in page, on the SDK: the inbox as the room list, the open room's state as the message list, the outbox
 * behind the composer. Only the HTTP calls the SDK leaves to apps (rooms, members) go through api.ts.
 */
export class ChatApp {
  readonly client: ChatClient;
  private readonly api: Api;
  private readonly rooms: RoomsView;
  private readonly messages: MessagesView;
  private readonly settings: SettingsView;
  private readonly composer: Composer;
  private openId?: string;
  /** Rooms left, deleted or removed from, until the caller is added again (the inbox keeps what it read). */
  private readonly goneIds = new Set<string>();
  private reading = false;
  private stopped = false;

  constructor(
    readonly me: Profile,
    session: SessionStore,
    private readonly connection: ConnectionView,
  ) {
    this.api = createApi(() => session.token());
    this.client = connect({
      url: location.origin,
      getToken: () => session.token(),
      storage: localStorage,
      storageKey: `chat.outbox.${me.id}`,
    });
    this.rooms = new RoomsView(byId('my-rooms'), byId('public-rooms'), (room) => void this.join(room));
    this.messages = new MessagesView(byId('messages'), {
      nameOf: (message) => this.nameOf(message),
      myId: () => this.me.id,
      onStop: (message) => void this.client.stopReply(message.roomId, message.id).catch(report),
      onRetry: (entry) => this.client.retrySend(entry.clientId),
      onEdit: (entry) => {
        this.client.discardSend(entry.clientId);
        this.composer.fill(entry.content);
      },
      onDiscard: (entry) => this.client.discardSend(entry.clientId),
      onTop: () => this.openId && void this.client.loadOlder(this.openId).catch(report),
      onBottom: () => this.markRead(),
      actions: clientActions(
        this.client,
        (roomId) => this.entry(roomId)?.room?.myRole === 'owner',
        () => this.openId && this.showRoom(this.openId),
      ),
    });
    this.settings = new SettingsView(this.api, { myId: () => this.me.id, left: (id, why) => this.gone(id, why) });
    this.composer = new Composer({
      send: (text) => this.openId && this.client.send(this.openId, text),
      typing: (isTyping) => this.openId && this.client.setTyping(this.openId, isTyping),
    });
    this.listen();
    connection.attach(this.client);
  }

  async start(): Promise<void> {
    await this.client.loadInbox();
    // Who the caller blocked (Block or Unblock on their messages): the room is drawn again once it is known.
    this.client.blocks().then(() => this.openId && this.showRoom(this.openId), report);
    this.showRooms();
    void this.refreshPublic().catch(report);
    this.route();
  }

  stop(): void {
    this.stopped = true;
    this.connection.detach();
    this.client.close();
    this.messages.reset();
    this.openId = undefined;
  }

  /** Opens the room in the address (`#/rooms/<id>`), or the list. */
  route(): void {
    const id = /^#\/rooms\/(.+)$/.exec(location.hash)?.[1];
    const roomId = id ? decodeURIComponent(id) : undefined;
    if (roomId && this.entry(roomId)) {
      void this.open(roomId);
    } else {
      this.close();
    }
  }

  async createRoom(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    const prompt = field(data, 'systemPrompt').trim();
    const room = await this.api.createRoom({
      name: field(data, 'name').trim(),
      visibility: data.get('visibility') === 'public' ? 'public' : 'private',
      ai: { mode: data.get('mode') as Room['ai']['mode'], ...(prompt ? { systemPrompt: prompt } : {}) },
    });
    form.reset();
    (form.closest('details') as HTMLDetailsElement).open = false;
    await this.client.loadInbox();
    location.hash = `#/rooms/${encodeURIComponent(room.id)}`;
  }

  async refreshPublic(): Promise<void> {
    const { rooms } = await this.api.publicRooms();
    this.rooms.showPublic(rooms, new Set(this.inbox().map((e) => e.roomId)));
  }

  private async open(roomId: string): Promise<void> {
    if (this.openId === roomId) {
      return;
    }
    const previous = this.openId;
    this.openId = roomId;
    const entry = this.entry(roomId);
    this.messages.reset(entry && entry.unread > 0 ? entry.lastReadSeq : Infinity);
    document.body.classList.add('room-open');
    byId('no-room').hidden = true;
    byId('room-panel').hidden = false;
    this.showHeader();
    this.showRooms();
    if (previous) {
      void this.client.leaveRoom(previous).catch(() => undefined);
    }
    void this.loadMembers(roomId);
    try {
      const state = await this.client.joinRoom(roomId);
      if (this.openId === roomId) {
        this.showRoom(state.roomId);
        this.messages.scrollToEnd();
        this.markRead();
      }
    } catch (error) {
      report(error);
    }
  }

  private close(): void {
    if (this.openId) {
      void this.client.leaveRoom(this.openId).catch(() => undefined);
    }
    this.openId = undefined;
    document.body.classList.remove('room-open');
    this.settings.toggle(false);
    byId('no-room').hidden = false;
    byId('room-panel').hidden = true;
    this.showRooms();
  }

  private listen(): void {
    const client = this.client;
    client.on('inbox', (entry) => {
      this.showRooms();
      if (entry.roomId === this.openId) {
        this.showHeader();
      }
    });
    client.on('room', (state) => state.roomId === this.openId && this.showRoom(state.roomId));
    client.on('change', () => this.openId && this.showRoom(this.openId));
    client.on('block:updated', () => this.openId && this.showRoom(this.openId));
    client.on('message:withheld', (event) => showAlert(withheldNotice(event)));
    client.on('room:gone', ({ roomId }) => this.gone(roomId, 'The room was deleted, or you were removed from it.'));
    client.on('error', (error) => {
      if (!this.stopped) {
        report(error);
      }
    });
    client.socket.on('member:added', ({ roomId, profileId }) => {
      if (profileId === this.me.id) {
        this.goneIds.delete(roomId);
      }
      if (roomId === this.openId) {
        void this.loadMembers(roomId);
      }
    });
    client.socket.on('member:removed', ({ roomId }) => roomId === this.openId && void this.loadMembers(roomId));
    document.addEventListener('visibilitychange', () => this.markRead());
  }

  private showRooms(): void {
    this.rooms.showMine(this.inbox(), this.openId, this.me.id);
  }

  private showHeader(): void {
    const room = this.openId ? this.entry(this.openId)?.room : undefined;
    if (room) {
      byId('room-name').textContent = room.name;
      byId('room-info').textContent = describeRoom(room);
      this.settings.show(room);
    }
  }

  private showRoom(roomId: string): void {
    const state = this.client.room(roomId);
    this.messages.show(
      state.messages,
      this.client.outbox.filter((entry) => entry.roomId === roomId),
    );
    this.settings.showPresence(state);
    const typing = [...state.typing]
      .filter((id) => id !== this.me.id)
      .map((id) => this.settings.nameOf(id) ?? 'Someone');
    byId('typing').textContent = typing.length
      ? `${typing.join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…`
      : '';
    this.markRead();
  }

  /** `room:read` for what is on screen: the newest message, once it is in view and the page is visible. */
  private markRead(): void {
    const roomId = this.openId;
    if (!roomId || this.reading || document.visibilityState !== 'visible' || !this.messages.nearBottom()) {
      return;
    }
    const seq = this.client.room(roomId).lastSeq;
    const entry = this.entry(roomId);
    if (!entry || seq === 0 || (seq <= entry.lastReadSeq && entry.unread === 0)) {
      return;
    }
    this.reading = true;
    this.client
      .markRead(roomId, seq)
      .catch(() => undefined)
      .finally(() => {
        this.reading = false;
        if (this.client.room(roomId).lastSeq > seq) {
          this.markRead();
        }
      });
  }

  private async loadMembers(roomId: string): Promise<void> {
    try {
      const { members } = await this.api.members(roomId);
      if (roomId === this.openId) {
        this.settings.setMembers(members, this.client.room(roomId));
        this.showRoom(roomId);
      }
    } catch (error) {
      report(error);
    }
  }

  private async join(room: Room): Promise<void> {
    try {
      await this.api.joinRoom(room.id);
      this.goneIds.delete(room.id);
      await this.client.loadInbox();
      void this.refreshPublic().catch(report);
      location.hash = `#/rooms/${encodeURIComponent(room.id)}`;
    } catch (error) {
      report(error);
    }
  }

  private gone(roomId: string, why: string): void {
    this.goneIds.add(roomId);
    this.showRooms();
    void this.refreshPublic().catch(() => undefined);
    if (roomId === this.openId) {
      this.openId = undefined;
      history.replaceState(null, '', location.pathname);
      this.close();
      showAlert(why);
    }
  }

  private inbox(): InboxEntry[] {
    return this.client.inbox.filter((e) => !this.goneIds.has(e.roomId));
  }

  private entry(roomId: string): InboxEntry | undefined {
    return this.inbox().find((e) => e.roomId === roomId);
  }

  private nameOf(message: Message): string {
    if (message.role === 'assistant') {
      return 'Assistant';
    }
    if (message.role === 'system') {
      return 'Notice';
    }
    return this.settings.nameOf(message.senderId) ?? 'Someone';
  }
}
