# syntax=docker/dockerfile:1
# Build stage: compilers and build tools stay here.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN python -m venv /opt/lagwatch \
 && /opt/lagwatch/bin/pip install --no-cache-dir --upgrade pip==25.3 \
 && /opt/lagwatch/bin/pip install --no-cache-dir .

# Final stage: the virtual environment and nothing else; runs as an unprivileged user.
FROM python:3.11-slim
RUN groupadd --system lagwatch && useradd --system --gid lagwatch --no-create-home lagwatch \
 && mkdir -p /etc/lagwatch /var/lib/lagwatch && chown lagwatch:lagwatch /var/lib/lagwatch
COPY --from=build /opt/lagwatch /opt/lagwatch
COPY config/lagwatch.yaml /etc/lagwatch/lagwatch.yaml
ENV PATH=/opt/lagwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LAGWATCH_CONFIG=/etc/lagwatch/lagwatch.yaml
USER lagwatch
EXPOSE 9308
ENTRYPOINT ["lagwatch"]
CMD ["run"]
