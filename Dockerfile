# syntax=docker/dockerfile:1
# lagwatch: Kafka consumer-lag exporter. Build: docker build -t lagwatch .
# Run:   docker run -v $PWD/lagwatch.yaml:/etc/lagwatch/lagwatch.yaml -p 9308:9308 lagwatch
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build stage: pip and wheels stay here; the final image gets only the finished virtual environment.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
# devstack/ (the local Kafka/Elasticsearch for `lagwatch demo`) lives outside exporter/: not in the image.
COPY exporter ./exporter
# pip and setuptools are removed from the venv once it is built: the runtime never installs anything.
RUN python -m venv /opt/lagwatch \
 && /opt/lagwatch/bin/pip install --no-cache-dir --upgrade "pip==26.3" \
 && /opt/lagwatch/bin/pip install --no-cache-dir . \
 && /opt/lagwatch/bin/pip uninstall --yes --quiet pip setuptools \
 && rm -f /opt/lagwatch/bin/activate* /opt/lagwatch/bin/Activate.ps1

FROM ${PYTHON_IMAGE}
# An unprivileged user owns only the state directory (spool, alert state).
RUN groupadd --system --gid 10001 lagwatch \
 && useradd --system --uid 10001 --gid lagwatch --no-create-home --shell /usr/sbin/nologin lagwatch \
 && mkdir -p /etc/lagwatch /var/lib/lagwatch \
 && chown lagwatch:lagwatch /var/lib/lagwatch
COPY --from=build /opt/lagwatch /opt/lagwatch
COPY config/lagwatch.yaml /etc/lagwatch/lagwatch.yaml
# The venv holds compiled bytecode from the build, so a read-only root costs nothing at start-up.
ENV PATH=/opt/lagwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LAGWATCH_CONFIG=/etc/lagwatch/lagwatch.yaml \
    LAGWATCH_STATE_DIR=/var/lib/lagwatch
USER 10001:10001
VOLUME ["/var/lib/lagwatch"]
EXPOSE 9308
# Set the port with LAGWATCH_HTTP__PORT (not only in the config file) and the health check follows it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LAGWATCH_HTTP__PORT', '9308'), timeout=4)"]
ENTRYPOINT ["lagwatch"]
CMD ["run"]
