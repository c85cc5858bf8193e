/**
 * Socket.IO room names: one per chat room (the sockets that joined it), one per chat room's inbox (its members'
 * sockets), one per user (all of that user's sockets), one per instance.
 */
export const roomChannel = (roomId: string): string => `room:${roomId}`;
/** The chat room a Socket.IO room name stands for, or undefined for the other channels. */
export const roomIdOf = (channel: string): string | undefined =>
  channel.startsWith('room:') ? channel.slice('room:'.length) : undefined;
export const userChannel = (profileId: string): string => `user:${profileId}`;
/** Every socket of the room's members, joined or not: `room:activity` goes here, except to the room's channel. */
export const inboxChannel = (roomId: string): string => `inbox:${roomId}`;
/** Every socket connected to one instance: excluding it sends a broadcast to the other instances only. */
export const instanceChannel = (instanceId: string): string => `instance:${instanceId}`;
/**
 * Every socket of the people who blocked a person: their messages reach these sockets as placeholders, their
 * typing and activity not at all (PROTOCOL.md §3 Blocks). A socket joins one per person its user blocked.
 */
export const blockersChannel = (profileId: string): string => `blockers:${profileId}`;
export const CHAT_NAMESPACE = '/chat';
