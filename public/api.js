// The HTTP side of the contract (PROTOCOL.md §3): JSON in, JSON or problem+json out.

/** An HTTP error; `message` is the problem's `detail`, written for people. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `The server answered ${status}`);
    this.status = status;
    this.code = problem?.code;
  }
}

export function createApi(getToken) {
  async function call(method, path, body) {
    const headers = { accept: 'application/json, application/problem+json' };
    const token = getToken();
    if (token) {
      headers.authorization = `Bearer ${token}`;
    }
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(`/api${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, { detail: 'The server cannot be reached. Check your connection.' });
    }
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) {
      throw new ApiError(res.status, data);
    }
    return data;
  }

  const room = (id) => `/rooms/${encodeURIComponent(id)}`;
  return {
    register: (username, password, displayName) =>
      call('POST', '/auth/register', { username, password, ...(displayName ? { displayName } : {}) }),
    login: (username, password) => call('POST', '/auth/login', { username, password }),
    me: () => call('GET', '/profiles/me'),
    myRooms: () => call('GET', '/rooms'),
    publicRooms: () => call('GET', '/rooms/public'),
    createRoom: (body) => call('POST', '/rooms', body),
    joinRoom: (id) => call('POST', `${room(id)}/join`),
    members: (id) => call('GET', `${room(id)}/members`),
    addMember: (id, username) => call('POST', `${room(id)}/members`, { username }),
    olderMessages: (id, beforeSeq, limit = 50) =>
      call('GET', `${room(id)}/messages?beforeSeq=${beforeSeq}&limit=${limit}`),
  };
}
