import { auth, type Profile, type Session } from './api';

const ACCESS = 'chat.token';
const REFRESH = 'chat.refresh';
/** Renew when the access token lives less than this: the server's `session:expiring` notice comes 300 s before. */
const RENEW_BEFORE_MS = 330_000;

/** Seconds since the epoch at which a JWT expires (read, not verified); 0 when unreadable. */
function expiryOf(token: string): number {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const payload = JSON.parse(atob(part)) as { exp?: number };
    return typeof payload.exp === 'number' ? payload.exp : 0;
  } catch {
    return 0;
  }
}

/**
 * The tab's session (PROTOCOL.md §4 "Keep one session, refresh one at a time"): the access and refresh tokens in
 * sessionStorage; `token()` hands out a valid access token, refreshing it (one refresh in flight) when it is about
 * to expire. The SDK calls it at every (re)connection and on `session:expiring`, then sends `auth:refresh`.
 */
export class SessionStore {
  private refreshing?: Promise<string>;

  constructor(private readonly onEnded: (reason: string) => void) {}

  get signedIn(): boolean {
    return sessionStorage.getItem(ACCESS) !== null;
  }

  save(session: Session): Profile {
    sessionStorage.setItem(ACCESS, session.accessToken);
    sessionStorage.setItem(REFRESH, session.refreshToken);
    return session.profile;
  }

  async token(): Promise<string> {
    const access = sessionStorage.getItem(ACCESS);
    if (!access) {
      throw new Error('Signed out');
    }
    if (expiryOf(access) * 1000 - Date.now() > RENEW_BEFORE_MS) {
      return access;
    }
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Ends the session on the server (best effort) and forgets it here. */
  async signOut(): Promise<void> {
    const refresh = sessionStorage.getItem(REFRESH);
    this.clear();
    if (refresh) {
      await auth.logout(refresh).catch(() => undefined);
    }
  }

  clear(): void {
    sessionStorage.removeItem(ACCESS);
    sessionStorage.removeItem(REFRESH);
  }

  private async refresh(): Promise<string> {
    const refresh = sessionStorage.getItem(REFRESH);
    if (!refresh) {
      return sessionStorage.getItem(ACCESS) ?? '';
    }
    try {
      this.save(await auth.refresh(refresh));
    } catch (error) {
      if ((error as { status?: number }).status === 401) {
        this.clear();
        this.onEnded('Your session has ended. Sign in again.');
      }
      throw error;
    }
    return sessionStorage.getItem(ACCESS) ?? '';
  }
}
