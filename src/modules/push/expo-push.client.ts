import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Expo, type ExpoPushMessage, type ExpoPushReceipt, type ExpoPushTicket } from 'expo-server-sdk';
import { Agent, type Dispatcher } from 'undici';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';

/**
 * A notification as Expo's push API takes it. `collapseId` (iOS), `tag` (Android) and `threadId` (iOS grouping) are
 * fields of the API that this version of the SDK does not type yet: the SDK sends the object as it is.
 */
export type PushMessage = ExpoPushMessage & { to: string; collapseId?: string; tag?: string; threadId?: string };

/** The push service said no for a reason that trying again will not change (a bad request, a refused token). */
export function isRetryable(error: unknown): boolean {
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status !== 'number' || status === 429 || status >= 500;
}

/**
 * The Expo push service through `expo-server-sdk`: its chunking, its requests (gzip, its own back-off on 429), its
 * tickets and receipts. Requests go through our own HTTP agent: bounded by PUSH_TIMEOUT_MS, and sent to
 * PUSH_EXPO_URL's origin when it is set (the SDK's URL is fixed to Expo's).
 */
@Injectable()
export class ExpoPushClient implements OnApplicationShutdown {
  private readonly agent: Agent;
  private readonly expo: Expo;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const { timeoutMs, expoUrl, accessToken, retryBaseMs } = config.push;
    this.agent = new Agent({ connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const origin = expoUrl ? new URL(expoUrl).origin : undefined;
    const dispatcher: Dispatcher = origin
      ? this.agent.compose((dispatch) => (options, handler) => dispatch({ ...options, origin }, handler))
      : this.agent;
    this.expo = new Expo({ httpAgent: dispatcher, accessToken, retryMinTimeout: retryBaseMs });
  }

  /** Batches of at most 100 notifications, the most one request may carry. */
  chunk(messages: PushMessage[]): PushMessage[][] {
    return this.expo.chunkPushNotifications(messages) as PushMessage[][];
  }

  /** One request; the nth ticket is the nth message's. */
  send(chunk: PushMessage[]): Promise<ExpoPushTicket[]> {
    return this.expo.sendPushNotificationsAsync(chunk);
  }

  /** Batches of at most 300 receipt ids, the most one request may ask for. */
  chunkReceiptIds(ids: string[]): string[][] {
    return this.expo.chunkPushNotificationReceiptIds(ids);
  }

  /** The receipts Expo has of these tickets (by ticket id); one not there yet is absent. */
  receipts(ids: string[]): Promise<Record<string, ExpoPushReceipt>> {
    return this.expo.getPushNotificationReceiptsAsync(ids);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.destroy();
  }
}
