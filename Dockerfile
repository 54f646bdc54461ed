# genq image: genq-worker (the entrypoint), genq and genq-mockllm, built on
# Debian 12 and shipped on debian:12-slim with only the runtime libraries.
#   docker build -t genq:local .    (docker-compose.yml does this for you)

# ---- build ------------------------------------------------------------------
FROM debian:12-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential pkg-config libhiredis-dev libcurl4-openssl-dev \
        libcjson-dev libjwt-dev libev-dev libssl-dev libmicrohttpd-dev \
        libinih-dev libpcre2-dev libzstd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make clean \
 && make -j"$(nproc)" all \
 && make install PREFIX=/usr/local DESTDIR=/out \
 && install -d /out/usr/local/share/genq \
 && cp -r templates examples /out/usr/local/share/genq/

# ---- runtime ----------------------------------------------------------------
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
# curl: the healthchecks (worker /healthz on the metrics port, mock /healthz)
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        ca-certificates curl libcjson1 libcurl4 libev4 libhiredis0.14 \
        libinih1 libjwt0 libmicrohttpd12 libpcre2-8-0 libssl3 libzstd1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 genq \
 && useradd --system --uid 10001 --gid genq --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin genq
COPY --from=build /out/usr/local/ /usr/local/
# `genq enqueue` finds ./templates here; examples/articles.jsonl is the demo
WORKDIR /usr/local/share/genq
# Numeric, so that runAsNonRoot-style checks can verify it.
USER 10001:10001
# /metrics and /healthz of the worker (not published; scrape inside the
# network). The HEALTHCHECK below relies on it: change both together.
ENV GENQ_METRICS_ADDR=0.0.0.0:9464
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:9464/healthz || exit 1
ENTRYPOINT ["genq-worker"]
