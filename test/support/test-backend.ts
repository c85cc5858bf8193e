/**
 * Which backend the e2e suites run against (set per jest project by a setupFiles file), and how they reach a
 * signed-in user, per app: in local mode they register through the API; in Supabase mode (the `supabase` jest
 * project) a fake Supabase Auth mints the user's access token.
 */
export type TokenMinter = (username: string, displayName?: string) => Promise<string>;

const minters = new Map<string, TokenMinter>();

export function registerMinter(baseUrl: string, minter: TokenMinter): void {
  minters.set(baseUrl, minter);
}

export function forgetMinter(baseUrl: string): void {
  minters.delete(baseUrl);
}

export function minterFor(baseUrl: string): TokenMinter | undefined {
  return minters.get(baseUrl);
}

/** True in the run of the suites against Supabase (set by test/support/supabase-backend.setup.ts). */
export function supabaseBackend(): boolean {
  return (globalThis as { __TEST_BACKEND__?: string }).__TEST_BACKEND__ === 'supabase';
}

/**
 * True in the run of the suites against several instances (set by test/support/cluster-backend.setup.ts):
 * `startTestApp` then starts two app processes sharing PostgreSQL and Redis (test/support/cluster.ts).
 */
export function clusterBackend(): boolean {
  return (globalThis as { __TEST_BACKEND__?: string }).__TEST_BACKEND__ === 'cluster';
}
