import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { REALTIME_BROADCASTER, type RealtimeBroadcaster } from '../../../common/realtime/realtime-broadcaster';

export const TYPING_IDLE_MS = 5000;

/**
 * Typing is the server's state of a member in a room: set by `typing:update`, cleared by the server
 * itself after 5 s without an update, or when the typer sends, leaves or goes offline, so no indicator sticks.
 */
@Injectable()
export class TypingService implements OnModuleDestroy {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(@Inject(REALTIME_BROADCASTER) private readonly broadcaster: RealtimeBroadcaster) {}

  update(roomId: string, profileId: string, isTyping: boolean): void {
    if (isTyping) {
      this.start(roomId, profileId);
    } else {
      this.stop(roomId, profileId);
    }
  }

  /** Ends a member's typing in a room if it is on (sent, left, removed, offline); silent otherwise. */
  stop(roomId: string, profileId: string): void {
    const key = `${roomId}:${profileId}`;
    const timer = this.timers.get(key);
    if (!timer) {
      return;
    }
    clearTimeout(timer);
    this.timers.delete(key);
    this.emit(roomId, profileId, false);
  }

  /** Ends a member's typing in every room (their last socket went away). */
  stopAll(profileId: string): void {
    const suffix = `:${profileId}`;
    for (const key of [...this.timers.keys()]) {
      if (key.endsWith(suffix)) {
        this.stop(key.slice(0, -suffix.length), profileId);
      }
    }
  }

  onModuleDestroy(): void {
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
  }

  private start(roomId: string, profileId: string): void {
    const key = `${roomId}:${profileId}`;
    const existing = this.timers.get(key);
    if (existing) {
      existing.refresh();
      return;
    }
    const timer = setTimeout(() => this.stop(roomId, profileId), TYPING_IDLE_MS);
    timer.unref();
    this.timers.set(key, timer);
    this.emit(roomId, profileId, true);
  }

  private emit(roomId: string, profileId: string, isTyping: boolean): void {
    // Never back to the typer's own sockets.
    this.broadcaster.toRoom(roomId, 'typing', { roomId, profileId, isTyping }, profileId);
  }
}
