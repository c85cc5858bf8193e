export {
  ChatClient,
  connect,
  type ClientEvents,
  type ConnectOptions,
  type ConnectionStatus,
  type InboxEntry,
} from './client';
export { ChatError, type ChatErrorCode } from './errors';
export type { OutboxEntry } from './outbox';
export { RoomState } from './room-state';
export { memoryStorage, type StorageAdapter } from './storage';
export type * from './protocol';
