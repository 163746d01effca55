# Control plane: router, supervisor, egress gateway, console and operator CLI, one image
# (docker-compose.yml and deploy/compose/console.yml pick the process with `command:`). Development
# code (dev/: the development IdP, `up`, `token`) is never copied in; the dev profile's IdP runs
# from an image of its own (runtime-image/dev-idp.Dockerfile). Node 24 runs the TypeScript sources as
# they are (type stripping): no compile step, and the stack traces point at the files in this
# repository.
#
# The build needs no network (docker build --network none): it installs nothing. The context is
# the repository root, with node_modules as `npm ci` left it on the host; the first stage keeps
# only the production dependencies, as package-lock.json lists them, and checks that what is
# installed matches the lock. runtime-image/build-compose-images.sh builds it (with the tag
# docker-compose.yml names), in effect from the repository root:
#   DOCKER_BUILDKIT=0 docker build --network none -f runtime-image/control-plane.Dockerfile \
#     --build-arg NODE_BASE=bulkhead/node-base:24.21.0-bookworm -t bulkhead/control-plane:dev .
# NODE_BASE as in runtime-image/Dockerfile: the official image where a registry is reachable, else
# the equivalent that runtime-image/base-offline.sh assembles. The host must match the base in OS
# and architecture (Debian bookworm, amd64): a few dependencies carry native addons built by
# `npm ci`.
#
# A .dockerignore at the repository root keeps the context small and keeps .bulkhead/ (the
# call-assertion private key) and .git out of it; the image itself only ever receives what the
# COPY lines below name.
ARG NODE_BASE=node:24-bookworm-slim

FROM ${NODE_BASE} AS production-deps
WORKDIR /src
COPY package.json package-lock.json ./
COPY node_modules/ node_modules/
# `npm prune --omit=dev` without npm (the offline base has none): copy every package the lock does
# not mark dev-only (devOptional ones stay, as with npm); optional ones may be absent (other
# platforms). Nested packages travel with their top-level parent. No .bin, no hidden lockfile.
RUN node -e ' \
  const fs = require("node:fs"); \
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")); \
  const problems = []; \
  let kept = 0; \
  for (const [path, meta] of Object.entries(lock.packages)) { \
    if (!path.startsWith("node_modules/") || meta.dev || meta.link) continue; \
    if (!fs.existsSync(path)) { if (!meta.optional) problems.push(path + ": missing"); continue; } \
    const installed = JSON.parse(fs.readFileSync(path + "/package.json", "utf8")).version; \
    if (meta.version !== undefined && installed !== meta.version) \
      problems.push(path + ": installed " + installed + ", locked " + meta.version); \
    if (path.lastIndexOf("node_modules/") !== 0) continue; \
    fs.cpSync(path, "/prod/" + path, { recursive: true, verbatimSymlinks: true }); \
    kept += 1; \
  } \
  if (problems.length > 0) { \
    console.error("node_modules does not match package-lock.json; run npm ci on the host:\n  " + problems.join("\n  ")); \
    process.exit(1); \
  } \
  console.log("production dependencies: " + kept + " top-level packages"); \
  '
# The console's front end, built here where esbuild and the UI's libraries (development dependencies,
# left out of the image) are installed; the console serves the result (BULKHEAD_CONSOLE_ASSETS_DIR).
COPY kernel/ kernel/
COPY console/ console/
RUN node console/ui/build-assets.ts /prod/console-assets

FROM ${NODE_BASE}

# Re-declared: an ARG before FROM is not visible after it.
ARG NODE_BASE=node:24-bookworm-slim
LABEL org.opencontainers.image.title="bulkhead-control-plane" \
      org.opencontainers.image.description="Bulkhead router, supervisor and operator CLI" \
      org.opencontainers.image.base.name="${NODE_BASE}"

ENV NODE_ENV=production
WORKDIR /app

# The CLI's state in docker-compose.yml (its `cli` service, UID 10002): the secret store's key and
# offboarding exports live on a named volume mounted here, which copies this owner and mode when
# it is first created. Nothing else may read it.
RUN mkdir -p /var/lib/bulkhead/cli && chown 10002:10002 /var/lib/bulkhead/cli \
  && chmod 0700 /var/lib/bulkhead/cli

# Root-owned and read-only for the service users. Least-changing first, for the layer cache.
COPY package.json package-lock.json ./
COPY --from=production-deps /prod/node_modules/ node_modules/
COPY kernel/ kernel/
COPY tenants/ tenants/
COPY supervisor/ supervisor/
COPY router/ router/
COPY egress/ egress/
COPY console/ console/
COPY --from=production-deps /prod/console-assets/ console/ui/dist/
ENV BULKHEAD_CONSOLE_ASSETS_DIR=/app/console/ui/dist

# Fail the build, not the deployment: every entry point loads its whole import graph (a dependency
# pruned by mistake, a file not copied) before printing its usage.
RUN node router/main.ts --help >/dev/null \
  && node supervisor/main.ts --help >/dev/null \
  && node tenants/cli/main.ts --help >/dev/null \
  && node egress/main.ts --help >/dev/null \
  && node console/main.ts --help >/dev/null

# The router's identity, with no passwd entry; docker-compose.yml sets it explicitly (its group is
# the supervisor's BULKHEAD_ROUTER_GID) and runs the supervisor as root instead.
USER 10001:10001

CMD ["node", "router/main.ts"]
