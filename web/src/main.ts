// The demo page: sign-in, then the chat on the SDK (app.ts). Bundled by web/build.mjs into public/build/app.js.
import { auth, createApi, type Profile } from './api';
import { ChatApp } from './app';
import { ConnectionView } from './connection-view';
import { byId, field, hideAlert, messageOf, reportError } from './dom';
import { SessionStore } from './session';

const session = new SessionStore((reason) => signOut(reason));
const connection = new ConnectionView();
let app: ChatApp | undefined;

async function start(profile: Profile): Promise<void> {
  byId('me').textContent = `${profile.displayName} (@${profile.username})`;
  byId('auth-view').hidden = true;
  byId('account').hidden = false;
  byId('chat-view').hidden = false;
  app = new ChatApp(profile, session, connection);
  await app.start();
}

function signOut(reason?: string): void {
  app?.stop();
  app = undefined;
  void session.signOut();
  history.replaceState(null, '', location.pathname);
  document.body.classList.remove('room-open', 'settings-open');
  byId('account').hidden = true;
  byId('chat-view').hidden = true;
  byId('auth-view').hidden = false;
  byId('auth-error').textContent = reason ?? '';
  byId('auth-error').hidden = !reason;
}

byId<HTMLFormElement>('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const data = new FormData(form);
  const username = field(data, 'username').trim();
  const password = field(data, 'password');
  const register = (event.submitter as HTMLButtonElement | null)?.value === 'register';
  form.inert = true;
  const signIn = register
    ? auth.register(username, password, field(data, 'displayName').trim())
    : auth.login(username, password);
  signIn
    .then(async (result) => {
      byId('auth-error').hidden = true;
      form.reset();
      await start(session.save(result));
    })
    .catch((error: unknown) => {
      byId('auth-error').textContent = messageOf(error);
      byId('auth-error').hidden = false;
    })
    .finally(() => (form.inert = false));
});

byId('sign-out').addEventListener('click', () => signOut());
byId('dismiss-alert').addEventListener('click', hideAlert);
byId('refresh-rooms').addEventListener('click', () => {
  void app?.client
    .loadInbox()
    .then(() => app?.refreshPublic())
    .catch((error: unknown) => reportError(error));
});
byId('back-to-rooms').addEventListener('click', () => {
  location.hash = '';
});
byId<HTMLFormElement>('create-room-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void app?.createRoom(event.currentTarget as HTMLFormElement).catch((error: unknown) => reportError(error));
});
window.addEventListener('hashchange', () => app?.route());

if (session.signedIn) {
  // A reload keeps the tab's session: the profile comes from the server (and a dead session shows the sign-in).
  createApi(() => session.token())
    .me()
    .then((profile) => start(profile))
    .catch(() => signOut('Your session has ended. Sign in again.'));
} else {
  signOut();
}
