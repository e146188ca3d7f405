# Lethe: one static-ish binary on a small Debian base, running as an unprivileged user with
# its data in /data. Build: docker build -t lethe .   Run: docker run -p 8080:8080 -v lethe:/data lethe
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY templates templates
COPY assets assets
RUN cargo build --release --locked && strip target/release/lethe

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin lethe \
    && mkdir -p /data && chown lethe:lethe /data && chmod 0700 /data
COPY --from=build /src/target/release/lethe /usr/local/bin/lethe
USER lethe
ENV LETHE_LISTEN=0.0.0.0:8080 \
    LETHE_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD ["/usr/local/bin/lethe", "healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/lethe"]
CMD ["serve"]
