# The development IdP's image: the control-plane image (runtime-image/control-plane.Dockerfile) plus
# what only development needs, the dev/ room and oidc-provider (a development dependency) with the
# packages it alone pulls in. The production image holds neither; docker-compose.yml runs this one
# under its `dev` profile only. Built offline by runtime-image/build-compose-images.sh, in effect:
#   DOCKER_BUILDKIT=0 docker build --network none -f runtime-image/dev-idp.Dockerfile \
#     --build-arg CONTROL_PLANE=bulkhead/control-plane:dev -t bulkhead/dev-idp:dev .
ARG CONTROL_PLANE=bulkhead/control-plane:dev

FROM ${CONTROL_PLANE} AS development-deps
USER root
WORKDIR /src
COPY package-lock.json ./
COPY node_modules/ node_modules/
# oidc-provider's dependency closure as package-lock.json resolves it (Node's lookup: the nearest
# node_modules up the tree), minus what the production image already has at the same place.
RUN node -e ' \
  const fs = require("node:fs"); \
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages; \
  const resolve = (from, name) => { \
    for (let dir = from; ; ) { \
      const candidate = (dir ? dir + "/" : "") + "node_modules/" + name; \
      if (lock[candidate]) return candidate; \
      if (!dir) return undefined; \
      const at = dir.lastIndexOf("/node_modules/"); \
      dir = at < 0 ? "" : dir.slice(0, at); \
    } \
  }; \
  const seen = new Set(["node_modules/oidc-provider"]); \
  for (const path of seen) { \
    const meta = lock[path]; \
    for (const name of Object.keys({ ...meta.dependencies, ...meta.optionalDependencies })) { \
      const found = resolve(path, name); \
      if (found) seen.add(found); \
      else if (!(meta.optionalDependencies ?? {})[name]) throw new Error(path + " needs " + name); \
    } \
  }; \
  let copied = 0; \
  for (const path of seen) { \
    if (path.lastIndexOf("node_modules/") !== 0 || fs.existsSync("/app/" + path)) continue; \
    fs.cpSync(path, "/dev-deps/" + path, { recursive: true, verbatimSymlinks: true }); \
    copied += 1; \
  } \
  console.log("development IdP dependencies: " + copied + " top-level packages"); \
  '

FROM ${CONTROL_PLANE}
LABEL org.opencontainers.image.title="bulkhead-dev-idp" \
      org.opencontainers.image.description="Bulkhead development IdP (development only)"
COPY --from=development-deps /dev-deps/node_modules/ node_modules/
COPY dev/ dev/
RUN node dev/idp/main.ts --help >/dev/null
CMD ["node", "dev/idp/main.ts"]
