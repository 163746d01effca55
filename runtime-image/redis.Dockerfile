# Redis for docker-compose.yml, built with no registry and no network: Debian bookworm's own
# redis-server, installed from the .deb files that runtime-image/build-compose-images.sh downloads
# on the host (apt-get download) and puts next to this file in the build context (debs/). That
# script also picks BASE (the base the tenant runtime image was built on, a Debian bookworm image)
# and lists exactly the packages apt would add to it; dpkg refuses the build if one is missing.
#   bash runtime-image/build-compose-images.sh
ARG BASE=bulkhead/node-base:24.21.0-bookworm
FROM ${BASE}

ARG BASE=bulkhead/node-base:24.21.0-bookworm
LABEL org.opencontainers.image.title="bulkhead-redis" \
      org.opencontainers.image.description="Debian's redis-server for the Bulkhead compose stack" \
      org.opencontainers.image.base.name="${BASE}"

COPY debs/ /tmp/debs/
# policy-rc.d 101: the package's maintainer script would start the service during the build.
# /data and /run/redis (the socket's directory) belong to the redis user the package creates; a
# fresh named volume copies that ownership. Clients in other containers must enter /run/redis (0755);
# the socket's own mode and group decide who may connect.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d \
  && chmod 0755 /usr/sbin/policy-rc.d \
  && dpkg -i /tmp/debs/*.deb \
  && rm -f /usr/sbin/policy-rc.d \
  && rm -rf /tmp/debs \
  && mkdir -p /data /run/redis \
  && chown redis:redis /data /run/redis \
  && chmod 0750 /data \
  && chmod 0755 /run/redis \
  && redis-server --version

USER redis
WORKDIR /data
# No config file: the compiled-in defaults plus these flags. No TCP port: only the unix socket,
# which docker-compose.yml shares with the control plane on a volume of its own; the socket's mode
# and group decide who connects (protected mode, on by default, lets socket clients in).
CMD ["redis-server", "--dir", "/data", "--port", "0", "--unixsocket", "/run/redis/redis.sock", "--unixsocketperm", "660"]
