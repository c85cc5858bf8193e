// The sidebar: the caller's rooms (links to `#/rooms/<id>`), public rooms to join, and the new-room form.
import { $, el } from './ui.js';

export class RoomList {
  /**
   * @param {ReturnType<import('./api.js').createApi>} api
   * @param {{ openId: () => string | undefined, onError: (error: Error) => void }} hooks
   */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.clear();
    $('refresh-rooms').addEventListener('click', () => void this.refresh());
    $('create-room-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.create(event.currentTarget);
    });
  }

  clear() {
    /** id → Room: the caller's rooms, most recently active first */
    this.rooms = new Map();
    /** public rooms the caller is not in */
    this.joinable = [];
    this.render();
  }

  get(roomId) {
    return this.rooms.get(roomId);
  }

  /** Keeps a room's new state (room:updated), with the caller's role, which that event does not carry. */
  update(room) {
    const known = this.rooms.get(room.id);
    if (known) {
      this.rooms.set(room.id, { ...room, myRole: known.myRole });
      this.render();
    }
    return this.rooms.get(room.id);
  }

  remove(roomId) {
    this.rooms.delete(roomId);
    this.render();
  }

  async refresh() {
    try {
      const [mine, open] = await Promise.all([this.api.myRooms(), this.api.publicRooms()]);
      this.rooms = new Map(mine.rooms.map((room) => [room.id, room]));
      this.joinable = open.rooms.filter((room) => !this.rooms.has(room.id));
      this.render();
    } catch (error) {
      this.hooks.onError(error);
    }
  }

  render() {
    const openId = this.hooks.openId();
    const mine = [...this.rooms.values()].map((room) => {
      const link = el('a', '', room.name);
      link.href = `#/rooms/${room.id}`;
      if (room.id === openId) {
        link.setAttribute('aria-current', 'page');
      }
      const item = el('li', '');
      item.append(link);
      return item;
    });
    const joinable = this.joinable.map((room) => {
      const join = el('button', 'small', 'Join');
      join.type = 'button';
      join.setAttribute('aria-label', `Join ${room.name}`);
      join.addEventListener('click', () => void this.join(room.id));
      const item = el('li', '');
      item.append(el('span', '', room.name), join);
      return item;
    });
    $('my-rooms').replaceChildren(...mine);
    $('public-rooms').replaceChildren(...joinable);
  }

  async join(roomId) {
    try {
      await this.api.joinRoom(roomId);
      await this.refresh();
      location.hash = `#/rooms/${roomId}`;
    } catch (error) {
      this.hooks.onError(error);
    }
  }

  async create(form) {
    const { name, visibility, mode, systemPrompt } = Object.fromEntries(new FormData(form));
    try {
      const room = await this.api.createRoom({
        name,
        visibility,
        ai: { mode, ...(systemPrompt.trim() ? { systemPrompt: systemPrompt.trim() } : {}) },
      });
      this.rooms = new Map([[room.id, room], ...this.rooms]);
      form.reset();
      form.closest('details').open = false;
      location.hash = `#/rooms/${room.id}`;
    } catch (error) {
      this.hooks.onError(error);
    }
  }
}
