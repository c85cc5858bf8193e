// Sends kept until the server acknowledges them, retried with the same clientId (a retry never stores twice).
// They are kept in sessionStorage, so a reload sends them too.

const STORAGE_KEY = 'chat.pending';
const RETRY_MS = 2000;
/** Errors worth another try later; any other refusal is final. */
const TRANSIENT = ['RATE_LIMITED', 'UNAVAILABLE'];

export function newClientId() {
  // randomUUID needs a secure context (https or localhost); getRandomValues does not.
  return (
    crypto.randomUUID?.() ??
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('')
  );
}

export class Outbox {
  /**
   * @param {{ emit: (event: string, payload: object) => Promise<object>, connected: () => boolean,
   *   onSent: (message: object) => void, onRefused: (clientId: string, reason: string) => void }} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    /** clientId → { roomId, content } */
    this.entries = new Map(JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? '[]'));
    this.inFlight = new Set();
  }

  /** Queues a message and sends it; answers its clientId. */
  add(roomId, content) {
    const clientId = newClientId();
    this.entries.set(clientId, { roomId, content });
    this.save();
    void this.send(clientId);
    return clientId;
  }

  /** The sends of a room still waiting for their ack: [clientId, content] pairs. */
  pendingIn(roomId) {
    return [...this.entries].filter(([, entry]) => entry.roomId === roomId).map(([id, { content }]) => [id, content]);
  }

  /** Sends everything still waiting (after a reconnect). */
  flush() {
    for (const clientId of this.entries.keys()) {
      void this.send(clientId);
    }
  }

  clear() {
    this.entries.clear();
    sessionStorage.removeItem(STORAGE_KEY);
  }

  async send(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry || this.inFlight.has(clientId) || !this.hooks.connected()) {
      return; // sent already, or the next connect sends it
    }
    this.inFlight.add(clientId);
    try {
      const { message } = await this.hooks.emit('message:send', { ...entry, clientId });
      this.forget(clientId);
      this.hooks.onSent(message);
    } catch (error) {
      if (error.code && !TRANSIENT.includes(error.code)) {
        this.forget(clientId);
        this.hooks.onRefused(clientId, error.message);
      } else if (this.hooks.connected()) {
        setTimeout(() => void this.send(clientId), error.retryAfterMs ?? RETRY_MS);
      } // else: the connection dropped before the ack; the next connect sends it again
    } finally {
      this.inFlight.delete(clientId);
    }
  }

  forget(clientId) {
    this.entries.delete(clientId);
    this.save();
  }

  save() {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify([...this.entries]));
  }
}
