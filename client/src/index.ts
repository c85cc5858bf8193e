export { ChatClient, connect, type ConnectOptions } from './client';
export type { ClientEvents, ConnectionStatus, InboxEntry } from './events';
export { ChatError, type ChatErrorCode } from './errors';
export type { OutboxEntry } from './outbox';
export { RoomState } from './room-state';
export { memoryStorage, type StorageAdapter } from './storage';
export type * from './protocol';
