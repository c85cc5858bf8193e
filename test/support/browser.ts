/**
 * Drives the demo page (public/) in Debian's Chromium through playwright-core, the way a person would:
 * by labels, roles and visible text. No browser download; `.ci/run` installs the `chromium` package.
 */
import { randomBytes } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { uniqueUsername } from './http-client';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Fail a wait well before jest's 60 s test timeout, with Playwright's message. */
const WAIT_MS = 10_000;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface RoomOptions {
  visibility?: 'private' | 'public';
  mode?: 'always' | 'mention' | 'off';
  systemPrompt?: string;
}

/** One person's browser tab on the chat page, in a context (cookies, storage) of their own. */
export class ChatPage {
  /** Uncaught errors of the page's scripts; a test expects none. */
  readonly errors: Error[] = [];
  /** The transport of every Socket.IO connection attempt the page made ('polling' or 'websocket'). */
  readonly socketTransports: string[] = [];
  username = '';
  password = '';

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on('pageerror', (error) => this.errors.push(error));
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith('/socket.io/')) {
        this.socketTransports.push(url.searchParams.get('transport') ?? 'unknown');
      }
    });
    page.on('websocket', (socket) => {
      if (new URL(socket.url()).pathname.startsWith('/socket.io/')) {
        this.socketTransports.push('websocket');
      }
    });
  }

  static async open(browser: Browser, url: string): Promise<ChatPage> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: url });
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    await page.goto('/');
    return new ChatPage(context, page);
  }

  /** Registers a fresh account through the form and waits until the page is signed in and online. */
  async register(displayName: string, prefix = 'web'): Promise<this> {
    this.username = uniqueUsername(prefix);
    this.password = `pw-${randomBytes(8).toString('hex')}`;
    await this.fillAuthForm(this.username, this.password, displayName);
    await this.page.getByRole('button', { name: 'Register' }).click();
    await this.waitSignedIn();
    return this;
  }

  async fillAuthForm(username: string, password: string, displayName = ''): Promise<void> {
    await this.page.getByLabel('Username').fill(username);
    await this.page.getByLabel('Password').fill(password);
    await this.page.getByLabel('Display name').fill(displayName);
  }

  async waitSignedIn(): Promise<void> {
    await this.page.getByRole('button', { name: 'Sign out' }).waitFor();
    await this.connection('Online').waitFor();
  }

  /** The connection badge showing this state. */
  connection(label: 'Online' | 'Offline' | 'Connecting…'): Locator {
    return this.page.getByRole('status').filter({ hasText: label });
  }

  async createRoom(name: string, options: RoomOptions = {}): Promise<void> {
    await this.page.getByText('New room').click();
    const form = this.page.locator('#create-room-form');
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Visibility').selectOption(options.visibility ?? 'private');
    await form.getByLabel('AI replies').selectOption(options.mode ?? 'always');
    await form.getByLabel('System prompt').fill(options.systemPrompt ?? '');
    await form.getByRole('button', { name: 'Create room' }).click();
    await this.roomHeading(name).waitFor();
  }

  async addMember(username: string): Promise<void> {
    await this.page.getByLabel('Add member').fill(username);
    await this.page.getByRole('button', { name: 'Add', exact: true }).click();
    await this.page
      .getByRole('alert')
      .filter({ hasText: `@${username}) was added` })
      .waitFor();
  }

  /** Refreshes the room list (being added to a room is not pushed to the added member) and opens the room. */
  async openRoom(name: string): Promise<void> {
    await this.page.getByRole('button', { name: 'Refresh rooms' }).click();
    await this.page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name, exact: true }).click();
    await this.roomHeading(name).waitFor();
  }

  roomHeading(name: string): Locator {
    return this.page.getByRole('heading', { name, exact: true });
  }

  /** Types into the composer (which sends typing updates) and sends with Enter. */
  async send(text: string): Promise<void> {
    const input = this.page.getByRole('textbox', { name: 'Message' });
    await input.fill(text);
    await input.press('Enter');
  }

  /** The message items of the open room that contain this text (and have this status, when given). */
  messages(text: string, status?: string): Locator {
    const selector = status ? `li[data-status="${status}"]` : 'li';
    return this.page.getByRole('log', { name: 'Messages' }).locator(selector, { hasText: text });
  }

  /** The assistant's replies that contain this text (and have this status, when given). */
  replies(text: string, status?: string): Locator {
    return this.messages(text, status).and(this.page.locator('li.assistant'));
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** A gate the fake provider waits on: `release()` lets the rest of the reply through. */
export function gate(): { release: () => void; released: Promise<void> } {
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { release, released };
}
