import type { ChatClient, OutboxEntry } from '../../client/src';
import { byId } from './dom';

/**
 * What people see of the connection: the badge in the top bar, the offline banner (at once on the browser's
 * `offline` event, and whenever the socket is not connected), and "Slow down" while the outbox waits out a
 * RATE_LIMITED refusal's `retryAfterMs`.
 */
export class ConnectionView {
  private readonly badge = byId('connection');
  private readonly banner = byId('offline-banner');
  private readonly slowDown = byId('slow-down');
  private readonly onNetwork = (): void => this.update();
  private client?: ChatClient;
  private unsubscribe: (() => void)[] = [];

  attach(client: ChatClient): void {
    this.detach();
    this.client = client;
    this.unsubscribe = [
      client.on('status', () => this.update()),
      client.on('change', (entries) => this.showLimits(entries)),
    ];
    window.addEventListener('online', this.onNetwork);
    window.addEventListener('offline', this.onNetwork);
    this.update();
  }

  detach(): void {
    this.unsubscribe.forEach((off) => off());
    this.unsubscribe = [];
    window.removeEventListener('online', this.onNetwork);
    window.removeEventListener('offline', this.onNetwork);
    this.client = undefined;
    this.slowDown.hidden = true;
    this.update();
  }

  private update(): void {
    const status = this.client?.status ?? 'closed';
    const online = navigator.onLine && status === 'connected';
    const state = !this.client
      ? 'offline'
      : online
        ? 'online'
        : navigator.onLine && status === 'connecting'
          ? 'connecting'
          : 'offline';
    this.badge.dataset.state = state;
    this.badge.textContent = state === 'online' ? 'Online' : state === 'connecting' ? 'Connecting…' : 'Offline';
    this.banner.hidden = !this.client || online;
    this.banner.textContent = navigator.onLine
      ? 'Reconnecting… What you send goes out once the connection is back.'
      : 'You are offline. What you send goes out once you are back online.';
  }

  private showLimits(entries: readonly OutboxEntry[]): void {
    const limited = entries.find((entry) => entry.state === 'queued' && entry.error?.code === 'RATE_LIMITED');
    this.slowDown.hidden = !limited;
    if (limited) {
      const seconds = Math.max(1, Math.ceil((limited.error?.retryAfterMs ?? 1000) / 1000));
      this.slowDown.textContent = `Slow down: you are sending too fast. Your message goes out in ${seconds} s.`;
    }
  }
}
