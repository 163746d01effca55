# Prometheus for docker-compose.yml's observability profile, built with no registry and no network:
# Debian bookworm's own prometheus, installed from the .deb files that
# runtime-image/build-compose-images.sh downloads on the host (apt-get download) and puts next to
# this file in the build context (debs/), as for Redis (redis.Dockerfile).
#   bash runtime-image/build-compose-images.sh
ARG BASE=bulkhead/node-base:24.21.0-bookworm
FROM ${BASE}

ARG BASE=bulkhead/node-base:24.21.0-bookworm
LABEL org.opencontainers.image.title="bulkhead-prometheus" \
      org.opencontainers.image.description="Debian's prometheus for the Bulkhead compose stack" \
      org.opencontainers.image.base.name="${BASE}"

COPY debs/ /tmp/debs/
# policy-rc.d 101: the package's maintainer script would start the service during the build.
# /prometheus (its time series) belongs to the prometheus user the package creates; a fresh named
# volume copies that ownership.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d \
  && chmod 0755 /usr/sbin/policy-rc.d \
  && dpkg -i /tmp/debs/*.deb \
  && rm -f /usr/sbin/policy-rc.d \
  && rm -rf /tmp/debs \
  && mkdir -p /prometheus \
  && chown prometheus:prometheus /prometheus \
  && chmod 0750 /prometheus \
  && prometheus --version

USER prometheus
WORKDIR /prometheus
# The configuration is docker-compose.yml's to mount (deploy/prometheus/prometheus.yml).
CMD ["prometheus", "--config.file=/etc/bulkhead/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=0.0.0.0:9090"]
