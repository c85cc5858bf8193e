import type { Connection } from './connection';
import type { Block, BlockState } from './protocol';

/**
 * The people the caller blocked (PROTOCOL.md §3 Blocks): read by `load`, kept by the caller's own calls and by
 * `block:updated` (the caller's other devices). `changed` hears of each change once, whichever came first.
 */
export class Blocks {
  private readonly ids = new Set<string>();

  constructor(
    private readonly connection: Connection,
    private readonly changed: (state: BlockState) => void,
  ) {
    connection.socket.on('block:updated', (state) => this.apply(state));
  }

  /** Whether the caller blocked this person (as far as this client knows: `load` reads it). */
  has(profileId: string): boolean {
    return this.ids.has(profileId);
  }

  /** `GET /api/blocks`: the people the caller blocked, with their profiles (what `has` answers from then on). */
  async load(): Promise<Block[]> {
    const { blocks } = await this.connection.http<{ blocks: Block[] }>('GET', '/api/blocks');
    this.ids.clear();
    blocks.forEach((block) => this.ids.add(block.profile.id));
    return blocks;
  }

  /** `POST` (block) or `DELETE` (unblock) `/api/profiles/:id/block`; doing it twice is the same as once. */
  async set(profileId: string, blocked: boolean): Promise<BlockState> {
    const path = `/api/profiles/${encodeURIComponent(profileId)}/block`;
    const state = await this.connection.http<BlockState>(blocked ? 'POST' : 'DELETE', path);
    this.apply(state);
    return state;
  }

  private apply(state: BlockState): void {
    if (this.ids.has(state.profileId) === state.blocked) {
      return;
    }
    if (state.blocked) {
      this.ids.add(state.profileId);
    } else {
      this.ids.delete(state.profileId);
    }
    this.changed(state);
  }
}
