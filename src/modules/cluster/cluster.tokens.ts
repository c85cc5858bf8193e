export { RedisConnections } from './redis-connections';

/** `RedisConnections | null`: null without REDIS_URL (one instance, in-process state). */
export const REDIS = Symbol('REDIS');
/** This process's id among the instances (a UUID made at start). */
export const INSTANCE_ID = Symbol('INSTANCE_ID');
