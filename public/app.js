// The demo client: only the public contract (docs/PROTOCOL.md), like any other client.
import { createApi } from './api.js';
import { MessageList } from './message-list.js';
import { Outbox } from './outbox.js';
import { RoomList } from './room-list.js';
import { RoomSync } from './room-sync.js';
import { TypingNotifier, typingLine } from './typing.js';
import { $, setConnection, showAlert } from './ui.js';

const ACK_TIMEOUT_MS = 10_000;
const SESSION_ENDED = 'Your session has ended. Sign in again.';

const state = {
  token: sessionStorage.getItem('chat.token'),
  me: null,
  socket: null,
  connectedBefore: false,
  /** the open Room, and who is in it, online in it and typing in it */
  room: null,
  members: new Map(),
  online: new Set(),
  typing: new Set(),
};

const api = createApi(() => state.token);
const connected = () => Boolean(state.socket?.connected);
const isOpen = (roomId) => state.room?.id === roomId;

/** Emits a client→server event and resolves with its ack; an `{ ok: false }` ack rejects with its error. */
async function emit(event, payload) {
  const ack = await state.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  if (!ack.ok) {
    throw Object.assign(new Error(ack.error.message), ack.error);
  }
  return ack;
}

function showError(error) {
  if (error?.status === 401) {
    signOut(SESSION_ENDED);
  } else {
    showAlert(error?.message ?? String(error));
  }
}

const rooms = new RoomList(api, { openId: () => state.room?.id, onError: showError });
const list = new MessageList($('messages'), {
  nameOf,
  myId: () => state.me?.id,
  onStop: (message) => emit('ai:stop', { roomId: message.roomId, messageId: message.id }).catch(showError),
});
const sync = new RoomSync(list, {
  emit,
  connected,
  fetchOlder: (roomId, beforeSeq) => api.olderMessages(roomId, beforeSeq),
  onJoined,
  onError: showError,
});
const outbox = new Outbox({
  emit,
  connected,
  onSent: (message) => isOpen(message.roomId) && list.add([message]),
  onRefused: (clientId, reason) => list.failPending(clientId, reason),
});
const typing = new TypingNotifier((isTyping) => {
  if (state.room && connected()) {
    state.socket.emit('typing:update', { roomId: state.room.id, isTyping }, () => undefined);
  }
});

function nameOf(message) {
  if (message.role === 'assistant') {
    return 'Assistant';
  }
  if (message.role === 'system') {
    return 'Notice';
  }
  return state.members.get(message.senderId)?.displayName ?? 'Someone';
}

// ---- session ---------------------------------------------------------------------------------------

async function start(profile) {
  state.me = profile;
  $('me').textContent = `${profile.displayName} (@${profile.username})`;
  $('auth-view').hidden = true;
  $('account').hidden = false;
  $('chat-view').hidden = false;
  connect();
  await rooms.refresh();
  openFromHash();
}

function signOut(reason) {
  state.socket?.disconnect();
  sessionStorage.removeItem('chat.token');
  outbox.clear();
  closeRoom();
  Object.assign(state, { token: null, me: null, socket: null, connectedBefore: false });
  rooms.clear();
  history.replaceState(null, '', location.pathname);
  setConnection('offline');
  $('account').hidden = true;
  $('chat-view').hidden = true;
  $('auth-view').hidden = false;
  $('auth-error').textContent = reason ?? '';
  $('auth-error').hidden = !reason;
}

$('auth-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const { username, password, displayName } = Object.fromEntries(new FormData(form));
  const register = event.submitter?.value === 'register';
  form.inert = true;
  try {
    const auth = register
      ? await api.register(username.trim(), password, displayName.trim())
      : await api.login(username.trim(), password);
    state.token = auth.accessToken;
    sessionStorage.setItem('chat.token', auth.accessToken);
    form.reset();
    $('auth-error').hidden = true;
    await start(auth.profile);
  } catch (error) {
    $('auth-error').textContent = error.message;
    $('auth-error').hidden = false;
  } finally {
    form.inert = false;
  }
});

$('sign-out').addEventListener('click', () => signOut());
$('dismiss-alert').addEventListener('click', () => ($('alert').hidden = true));

// ---- realtime ------------------------------------------------------------------------------------

function connect() {
  setConnection('connecting');
  const socket = io('/chat', { auth: { token: state.token }, transports: ['websocket'] });
  state.socket = socket;
  socket.on('connect', () => {
    setConnection('online');
    if (state.connectedBefore) {
      void rooms.refresh(); // rooms we were added to meanwhile
    }
    state.connectedBefore = true;
    void sync.join().then(() => outbox.flush());
  });
  socket.on('disconnect', () => setConnection('offline'));
  socket.io.on('reconnect_attempt', () => setConnection('connecting'));
  socket.on('connect_error', (error) => {
    setConnection('offline'); // while socket.active, the client tries again by itself
    if (!socket.active && error.message === 'UNAUTHENTICATED') {
      signOut(SESSION_ENDED);
    } else if (!socket.active) {
      showAlert(error.message);
    }
  });
  socket.on('session:expired', () => signOut('Your session expired. Sign in again.'));

  socket.on('message:new', ({ message }) => sync.onMessage(message));
  socket.on('message:updated', ({ message }) => sync.onMessage(message));
  socket.on('message:delta', (delta) => sync.onDelta(delta));
  socket.on('typing', ({ roomId, profileId, isTyping }) => {
    if (isOpen(roomId)) {
      state.typing[isTyping ? 'add' : 'delete'](profileId);
      renderPeople();
    }
  });
  socket.on('presence', ({ roomId, profileId, online }) => {
    if (isOpen(roomId)) {
      state.online[online ? 'add' : 'delete'](profileId);
      renderPeople();
    }
  });
  socket.on('room:updated', ({ room }) => {
    const updated = rooms.update(room);
    if (updated && isOpen(room.id)) {
      state.room = updated;
      renderRoomHeader();
    }
  });
  socket.on('room:deleted', ({ roomId }) => forgetRoom(roomId, 'This room was deleted.'));
  socket.on('member:added', ({ roomId }) => {
    if (isOpen(roomId)) {
      void loadMembers();
    }
  });
  socket.on('member:removed', ({ roomId, profileId }) => {
    if (profileId === state.me?.id) {
      forgetRoom(roomId, 'You are no longer a member of this room.');
    } else if (isOpen(roomId)) {
      state.online.delete(profileId);
      void loadMembers();
    }
  });
}

// ---- the open room -------------------------------------------------------------------------------

$('add-member-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  try {
    const { profile } = await api.addMember(state.room.id, new FormData(form).get('username').trim());
    form.reset();
    showAlert(`${profile.displayName} (@${profile.username}) was added to the room.`, 'info');
    await loadMembers();
  } catch (error) {
    showError(error);
  }
});

/** The open room is in the URL (`#/rooms/<id>`), so a reload opens it again. */
function openFromHash() {
  const roomId = /^#\/rooms\/([0-9a-f-]{36})$/i.exec(location.hash)?.[1];
  if (!roomId) {
    closeRoom();
  } else if (!rooms.get(roomId)) {
    history.replaceState(null, '', location.pathname);
    closeRoom();
    showAlert('That room is not one of yours.');
  } else if (!isOpen(roomId)) {
    openRoom(rooms.get(roomId));
  }
}

window.addEventListener('hashchange', () => state.me && openFromHash());

function openRoom(room) {
  closeRoom();
  state.room = room;
  $('no-room').hidden = true;
  $('room-panel').hidden = false;
  outbox.pendingIn(room.id).forEach(([clientId, content]) => list.addPending(clientId, content));
  rooms.render();
  renderRoomHeader();
  renderPeople();
  void loadMembers();
  sync.open(room.id);
  $('composer-input').focus();
}

function closeRoom() {
  if (state.room && connected()) {
    typing.stop();
    state.socket.emit('room:leave', { roomId: state.room.id }, () => undefined);
  }
  sync.close();
  Object.assign(state, { room: null, members: new Map(), online: new Set(), typing: new Set() });
  $('room-panel').hidden = true;
  $('no-room').hidden = false;
  rooms.render();
}

function forgetRoom(roomId, reason) {
  rooms.remove(roomId);
  if (isOpen(roomId)) {
    history.replaceState(null, '', location.pathname);
    closeRoom();
    showAlert(reason, 'info');
  }
}

function onJoined(room) {
  state.room = { ...room, myRole: room.myRole ?? state.room.myRole };
  state.online.add(state.me.id);
  renderRoomHeader();
  renderPeople();
  void sync.loadOlder();
}

async function loadMembers() {
  const roomId = state.room.id;
  try {
    const { members } = await api.members(roomId);
    if (isOpen(roomId)) {
      state.members = new Map(members.map(({ profile }) => [profile.id, profile]));
      list.refreshNames();
      renderPeople();
    }
  } catch (error) {
    showError(error);
  }
}

function renderRoomHeader() {
  const { room } = state;
  const ai = { off: 'AI off', always: 'AI answers every message', mention: 'AI answers @ai' }[room.ai.mode];
  const visibility = room.visibility === 'public' ? 'Public' : 'Private';
  const model = room.ai.mode === 'off' ? null : room.ai.model;
  $('room-name').textContent = room.name;
  $('room-info').textContent = [visibility, ai, model].filter(Boolean).join(' · ');
  $('add-member-form').hidden = room.myRole !== 'owner';
  $('ai-note').hidden = room.ai.mode === 'off' || room.ai.available;
  $('ai-note').textContent = 'AI replies are not configured on this server: set OPENAI_API_KEY and restart it.';
}

/** Who is online and who is typing in the open room. */
function renderPeople() {
  const name = (id) => (id === state.me?.id ? 'you' : (state.members.get(id)?.displayName ?? 'someone'));
  $('presence').textContent = `Online: ${[...state.online].map(name).join(', ')}`;
  $('typing').textContent = typingLine([...state.typing].map(name));
}

$('messages').addEventListener('scroll', () => void sync.loadOlder());

// ---- composer ------------------------------------------------------------------------------------

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('composer-input');
  const content = input.value.trim();
  if (content && state.room) {
    input.value = '';
    typing.sent();
    list.addPending(outbox.add(state.room.id, content), content);
  }
});

$('composer-input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
});

$('composer-input').addEventListener('input', (event) => typing.input(Boolean(event.currentTarget.value.trim())));

// ---- boot --------------------------------------------------------------------------------------------

async function boot() {
  if (!state.token) {
    signOut();
    return;
  }
  try {
    await start(await api.me());
  } catch (error) {
    if (error.status === 401) {
      signOut(SESSION_ENDED);
    } else {
      showAlert(error.message);
    }
  }
}

void boot();
