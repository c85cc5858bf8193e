// jest setupFiles of the `cluster` project: the suites it lists run against two instances of the app (separate
// processes sharing PostgreSQL and Redis); sockets and users are spread over both (see startTestApp, SocketPool).
(globalThis as { __TEST_BACKEND__?: string }).__TEST_BACKEND__ = 'cluster';
