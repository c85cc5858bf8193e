# The chat backend as a container image. Build: `docker build -t chat-backend .`; deploy/docker/README.md says how
# to run it. CI cannot run Docker: `.ci/image-check` lints this file and runs its own steps without it.
#
# Node 24 LTS, the release we ship, pinned to the exact version tools/node24 holds (the check compares them). To pin
# the bytes too, add the digest that `docker buildx imagetools inspect node:24.22.3-bookworm-slim` prints:
# FROM node:24.22.3-bookworm-slim@sha256:<digest> AS build

FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
# The dependencies first, so that a change of the sources alone reuses this layer. npm ci installs exactly the
# lockfile; no dependency's install script is needed.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src/ src/
# The SDK: its wire types are what the server compiles against (type-only imports: nothing of it reaches dist/), and
# the demo page (web/) is bundled with it into public/build/.
COPY client/src/ client/src/
COPY web/ web/
COPY public/ public/
# Compile to dist/ and bundle the page, then drop the devDependencies (the compiler, esbuild, jest, eslint, …).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# An empty directory for the volume's mount point (the runtime stage copies it, owned by the app's user).
RUN mkdir data

FROM node:24.22.3-bookworm-slim AS runtime
ENV NODE_ENV=production
# The embedded database and nothing else is written here. A new named volume takes this directory's owner, so the
# app's user can write it; on Kubernetes, fsGroup 10001 does the same. With NODE_ENV=production the server refuses
# the embedded database unless ALLOW_EMBEDDED_DATABASE=true (one node), and needs LOCAL_JWT_SECRET or Supabase.
ENV DATA_DIR=/data
WORKDIR /app
# Only what runs: the compiled app, its production dependencies, the SQL migrations it applies at start, the demo
# page it serves. No sources, no tests, no devDependencies; everything here is root's and read-only to the app.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules/ node_modules/
COPY migrations/ migrations/
COPY --from=build /app/public/ public/
COPY --from=build /app/dist/ dist/
COPY --from=build --chown=10001:10001 /app/data/ /data/
# A fixed numeric uid/gid (the Kubernetes manifests run as 10001 with runAsNonRoot). The image has no passwd entry
# for it and needs none. Nothing outside /data and /tmp is written, so a read-only root filesystem works.
USER 10001:10001
VOLUME /data
EXPOSE 3000
# No HEALTHCHECK: Kubernetes probes /health/live and /health/ready itself and ignores Docker's. Exec form, without
# npm or a shell in between, so that SIGTERM reaches node and the server stops gracefully (exit 0).
CMD ["node", "dist/main.js"]
