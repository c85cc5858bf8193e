import type { Room, RoomState } from '../../client/src';
import type { Api, Member } from './api';
import { button, byId, el, field, reportError, showAlert } from './dom';

const MODE_LABELS: Record<Room['ai']['mode'], string> = {
  always: 'Every message',
  mention: 'When @ai is mentioned',
  off: 'Off',
};

export function describeRoom(room: Room): string {
  return `${room.visibility === 'public' ? 'Public' : 'Private'} · AI replies: ${MODE_LABELS[room.ai.mode]}`;
}

/**
 * The room's settings panel: the owner edits name, visibility, AI mode and system prompt, adds and removes members
 * and deletes the room; a member sees them and can leave. The member list shows who is online.
 */
export class SettingsView {
  private readonly panel = byId('room-settings');
  private readonly form = byId<HTMLFormElement>('room-settings-form');
  private readonly addForm = byId<HTMLFormElement>('add-member-form');
  private readonly list = byId<HTMLUListElement>('members');
  private room?: Room;
  private members: Member[] = [];

  constructor(
    private readonly api: Api,
    private readonly hooks: { myId(): string | undefined; left(roomId: string, why: string): void },
  ) {
    byId('open-settings').addEventListener('click', () => this.toggle(true));
    byId('close-settings').addEventListener('click', () => this.toggle(false));
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.save();
    });
    this.addForm.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.addMember();
    });
    byId('leave-room').addEventListener('click', () => void this.leave());
    byId('delete-room').addEventListener('click', () => {
      byId('confirm-delete').hidden = false;
    });
    byId('confirm-delete-room').addEventListener('click', () => void this.remove());
    byId('cancel-delete-room').addEventListener('click', () => (byId('confirm-delete').hidden = true));
  }

  get owner(): boolean {
    return this.room !== undefined && this.room.ownerId === this.hooks.myId();
  }

  /** Shows a room (and fills the form, unless the owner is editing it). */
  show(room: Room): void {
    const other = room.id !== this.room?.id;
    this.room = room;
    const editing = !other && this.panel.contains(document.activeElement) && this.form.contains(document.activeElement);
    if (other || !editing) {
      this.fill(room);
    }
    const owner = this.owner;
    this.form.querySelector('fieldset')!.disabled = !owner;
    byId('save-room').hidden = !owner;
    this.addForm.hidden = !owner;
    byId('delete-room').hidden = !owner;
    byId('leave-room').hidden = owner;
    if (other) {
      byId('confirm-delete').hidden = true;
    }
  }

  toggle(open: boolean): void {
    this.panel.hidden = !open;
    document.body.classList.toggle('settings-open', open);
    byId('open-settings').setAttribute('aria-expanded', String(open));
    if (open) {
      byId<HTMLInputElement>('settings-name').focus();
    }
  }

  setMembers(members: Member[], state: RoomState | undefined): void {
    this.members = members;
    this.showPresence(state);
  }

  nameOf(profileId: string | null): string | undefined {
    return this.members.find((m) => m.profile.id === profileId)?.profile.displayName;
  }

  /** The member list with who is online (the join ack's `online`, then `presence`). */
  showPresence(state: RoomState | undefined): void {
    const me = this.hooks.myId();
    const items = this.members.map((member) => {
      const online = state?.online.has(member.profile.id) ?? false;
      const item = el('li', `member${online ? ' online' : ''}`);
      const dot = el('span', 'dot');
      dot.setAttribute('aria-hidden', 'true');
      const label = `${member.profile.displayName}${member.profile.id === me ? ' (you)' : ''}`;
      item.append(
        dot,
        el('span', 'member-name', label),
        el('span', 'muted', `${member.role === 'owner' ? 'owner · ' : ''}${online ? 'online' : 'offline'}`),
      );
      if (this.owner && member.profile.id !== me) {
        item.append(
          button(
            'Remove',
            'small secondary',
            () => void this.removeMember(member),
            `Remove ${member.profile.displayName}`,
          ),
        );
      }
      return item;
    });
    this.list.replaceChildren(...items);
    const online = this.members.filter((m) => state?.online.has(m.profile.id));
    byId('presence').textContent = online.length
      ? `Online: ${online.map((m) => (m.profile.id === me ? `${m.profile.displayName} (you)` : m.profile.displayName)).join(', ')}`
      : '';
  }

  private fill(room: Room): void {
    byId<HTMLInputElement>('settings-name').value = room.name;
    byId<HTMLSelectElement>('settings-visibility').value = room.visibility;
    byId<HTMLSelectElement>('settings-mode').value = room.ai.mode;
    byId<HTMLTextAreaElement>('settings-prompt').value = room.ai.systemPrompt ?? '';
  }

  private async save(): Promise<void> {
    if (!this.room) {
      return;
    }
    const data = new FormData(this.form);
    const prompt = field(data, 'systemPrompt').trim();
    try {
      const room = await this.api.updateRoom(this.room.id, {
        name: field(data, 'name').trim(),
        visibility: data.get('visibility') === 'public' ? 'public' : 'private',
        ai: { mode: data.get('mode') as Room['ai']['mode'], systemPrompt: prompt || null },
      });
      this.room = room;
      showAlert('Room settings saved.');
    } catch (error) {
      reportError(error);
    }
  }

  private async addMember(): Promise<void> {
    const input = this.addForm.elements.namedItem('username') as HTMLInputElement;
    const username = input.value.trim().replace(/^@/, '');
    if (!this.room || !username) {
      return;
    }
    try {
      const member = await this.api.addMember(this.room.id, username);
      input.value = '';
      showAlert(`${member.profile.displayName} (@${member.profile.username}) was added.`);
    } catch (error) {
      reportError(error);
    }
  }

  private async removeMember(member: Member): Promise<void> {
    if (this.room) {
      await this.api.removeMember(this.room.id, member.profile.id).catch((error: unknown) => reportError(error));
    }
  }

  private async leave(): Promise<void> {
    if (!this.room) {
      return;
    }
    const room = this.room;
    try {
      await this.api.leaveRoom(room.id);
      this.hooks.left(room.id, `You left ${room.name}.`);
    } catch (error) {
      reportError(error);
    }
  }

  private async remove(): Promise<void> {
    if (!this.room) {
      return;
    }
    const room = this.room;
    try {
      await this.api.deleteRoom(room.id);
      this.hooks.left(room.id, `${room.name} was deleted.`);
    } catch (error) {
      reportError(error);
    }
  }
}
