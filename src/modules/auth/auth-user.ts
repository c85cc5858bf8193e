/** The verified caller of a request or socket. */
export interface AuthUser {
  id: string;
  claims: Record<string, unknown>;
  /** When the token stops being valid (ms since epoch). */
  expiresAt: number;
  /** The bearer token itself, for a database that checks it again (Supabase). */
  accessToken: string;
}
