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
# /data belongs to the redis user the package creates; a fresh named volume copies that ownership.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d \
  && chmod 0755 /usr/sbin/policy-rc.d \
  && dpkg -i /tmp/debs/*.deb \
  && rm -f /usr/sbin/policy-rc.d \
  && rm -rf /tmp/debs \
  && mkdir -p /data \
  && chown redis:redis /data \
  && chmod 0750 /data \
  && redis-server --version

USER redis
WORKDIR /data
EXPOSE 6379
# No config file: the compiled-in defaults plus these flags. Protected mode refuses every client
# from another container when no password is set; docker-compose.yml keeps Redis on an internal
# network that only the control plane joins, which is the protection here.
CMD ["redis-server", "--dir", "/data", "--protected-mode", "no"]
