import type { Room } from '../../client/src';

/** The HTTP side of the contract that the SDK leaves to the app (PROTOCOL.md §1, §3): accounts, rooms, members. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    problem: { detail?: string; title?: string; code?: string } | null,
    readonly code = problem?.code,
  ) {
    super(problem?.detail || problem?.title || `The server answered ${status}`);
  }
}

export interface Profile {
  id: string;
  username: string;
  displayName: string;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  profile: Profile;
}

export interface Member {
  profile: Profile;
  role: 'owner' | 'member';
}

export interface RoomChanges {
  name?: string;
  visibility?: 'private' | 'public';
  ai?: { mode?: Room['ai']['mode']; systemPrompt?: string | null };
}

async function call<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: 'The server cannot be reached. Check your connection.' });
  }
  const data: unknown = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data as { detail?: string });
  }
  return data as T;
}

const roomPath = (id: string): string => `/rooms/${encodeURIComponent(id)}`;

export const auth = {
  register: (username: string, password: string, displayName: string) =>
    call<Session>('POST', '/auth/register', null, { username, password, ...(displayName ? { displayName } : {}) }),
  login: (username: string, password: string) => call<Session>('POST', '/auth/login', null, { username, password }),
  refresh: (refreshToken: string) => call<Session>('POST', '/auth/refresh', null, { refreshToken }),
  logout: (refreshToken: string) => call<null>('POST', '/auth/logout', null, { refreshToken }),
};

/** Calls made with the session's access token. */
export function createApi(token: () => Promise<string>) {
  const authed = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
    call<T>(method, path, await token(), body);
  return {
    me: () => authed<Profile>('GET', '/profiles/me'),
    publicRooms: () => authed<{ rooms: Room[] }>('GET', '/rooms/public'),
    createRoom: (body: RoomChanges & { name: string }) => authed<Room>('POST', '/rooms', body),
    updateRoom: (id: string, body: RoomChanges) => authed<Room>('PATCH', roomPath(id), body),
    deleteRoom: (id: string) => authed<null>('DELETE', roomPath(id)),
    joinRoom: (id: string) => authed<Room>('POST', `${roomPath(id)}/join`),
    leaveRoom: (id: string) => authed<null>('POST', `${roomPath(id)}/leave`),
    members: (id: string) => authed<{ members: Member[] }>('GET', `${roomPath(id)}/members`),
    addMember: (id: string, username: string) => authed<Member>('POST', `${roomPath(id)}/members`, { username }),
    removeMember: (id: string, profileId: string) =>
      authed<null>('DELETE', `${roomPath(id)}/members/${encodeURIComponent(profileId)}`),
  };
}

export type Api = ReturnType<typeof createApi>;
