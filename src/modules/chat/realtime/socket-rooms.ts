/** Socket.IO room names: one per chat room, one per user (all of that user's sockets). */
export const roomChannel = (roomId: string): string => `room:${roomId}`;
export const userChannel = (profileId: string): string => `user:${profileId}`;
export const CHAT_NAMESPACE = '/chat';
