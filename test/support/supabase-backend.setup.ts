// jest setupFiles of the `supabase` project: the suites it lists run against Supabase mode
// (supabase-js → PostgREST stand-in → the test PostgreSQL server, tokens from a fake Supabase Auth).
(globalThis as { __TEST_BACKEND__?: string }).__TEST_BACKEND__ = 'supabase';
