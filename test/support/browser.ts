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

/** The sizes the page is tested at: a desktop window and a phone (iPhone 12-15 class, CSS pixels). */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

export type ViewportName = keyof typeof VIEWPORTS;

export interface RoomOptions {
  visibility?: 'private' | 'public';
  mode?: 'always' | 'mention' | 'off';
  systemPrompt?: string;
}

/** Run in the page (the root tsconfig has no DOM types): the document's scroll width, the viewport's, and the
 * visible controls that stick out of it. */
const FIT_CHECK = `(() => {
  const width = window.innerWidth;
  const outside = [...document.querySelectorAll('button, input, select, textarea, a, summary')]
    .filter((control) => control.getClientRects().length > 0)
    .filter((control) => {
      const box = control.getBoundingClientRect();
      return box.left < 0 || box.right > width + 0.5;
    })
    .map((control) => control.getAttribute('aria-label') || control.textContent.trim() || control.tagName);
  return { scrollWidth: document.documentElement.scrollWidth, width, outside };
})()`;

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

  static async open(browser: Browser, url: string, viewport: ViewportName = 'desktop'): Promise<ChatPage> {
    const context = await browser.newContext({
      viewport: VIEWPORTS[viewport],
      baseURL: url,
      ...(viewport === 'phone' ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
    });
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

  /** On a phone the room list and the open room take turns: go back to the list if a room is open. */
  async showRoomList(): Promise<void> {
    const back = this.page.getByRole('button', { name: 'Back to rooms' });
    if (await back.isVisible()) {
      await back.click();
    }
    await this.page.getByRole('navigation', { name: 'Rooms' }).waitFor();
  }

  /** The link of a room in the caller's room list. */
  roomLink(name: string): Locator {
    return this.page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name, exact: true });
  }

  async createRoom(name: string, options: RoomOptions = {}): Promise<void> {
    await this.showRoomList();
    await this.page.getByText('New room').click();
    const form = this.page.locator('#create-room-form');
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Visibility').selectOption(options.visibility ?? 'private');
    await form.getByLabel('AI replies').selectOption(options.mode ?? 'always');
    await form.getByLabel('System prompt').fill(options.systemPrompt ?? '');
    await form.getByRole('button', { name: 'Create room' }).click();
    await this.roomHeading(name).waitFor();
  }

  /** Opens the open room's settings panel (members, AI mode, …). */
  async openSettings(): Promise<Locator> {
    const panel = this.page.getByRole('complementary', { name: 'Room settings' });
    if (!(await panel.isVisible())) {
      await this.page.getByRole('button', { name: 'Room settings' }).click();
    }
    await panel.waitFor();
    return panel;
  }

  async closeSettings(): Promise<void> {
    await this.page.getByRole('button', { name: 'Close settings' }).click();
    await this.page.getByRole('complementary', { name: 'Room settings' }).waitFor({ state: 'hidden' });
  }

  /** Adds a member to the open room through its settings (the owner's). */
  async addMember(username: string): Promise<void> {
    const panel = await this.openSettings();
    await panel.getByLabel('Add member').fill(username);
    await panel.getByRole('button', { name: 'Add', exact: true }).click();
    await this.page
      .getByRole('alert')
      .filter({ hasText: `@${username}) was added` })
      .waitFor();
    await this.closeSettings();
  }

  /** Opens a room from the room list, where it appears by itself once the caller is a member (no reload). */
  async openRoom(name: string): Promise<void> {
    await this.showRoomList();
    await this.roomLink(name).click();
    await this.roomHeading(name).waitFor();
  }

  /**
   * Fails unless the page fits its viewport: no horizontal scrolling (the document's scroll width equals the
   * viewport's) and every visible control inside it.
   */
  async expectFitsViewport(): Promise<void> {
    const fit = await this.page.evaluate<{ scrollWidth: number; width: number; outside: string[] }>(FIT_CHECK);
    expect(fit).toEqual({ scrollWidth: fit.width, width: fit.width, outside: [] });
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
