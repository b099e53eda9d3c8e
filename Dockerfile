# syntax=docker/dockerfile:1
#
# qualify's container image (docs/ci.md, "The container image").
#
#   docker build -t qualify .                         from source (needs a registry: the Rust image)
#   docker build --target prebuilt --build-arg QUALIFY_BINARY=path/in/context/qualify -t qualify .
#                                                     around a binary built already (x86_64 glibc,
#                                                     as `cargo build --release` makes it on Debian 12)
#
# The runtime is not a distro image: it is `scratch` plus a few files (the dynamic loader, libc,
# libm, libgcc_s, passwd/group with the user 65532, nsswitch.conf, /tmp, /data) that
# packaging/image/make-rootfs copies in the `rootfs` stage from the image the binary was linked
# in. So the runtime's glibc is always the one the binary was linked against, nothing but
# qualify can run in it, and the image is the binary plus ~3 MB. Offline (CI here, no registry),
# scripts/build-image runs the same stages with ROOTFS_IMAGE set to an image it makes of the
# build machine's own copies of make-rootfs's inputs (`make-rootfs --inputs`): the same script
# and list, so what CI tests is what a registry build makes. (A distroless image,
# gcr.io/distroless/cc-debian12:nonroot, holds the same kind of files and more; CI could not
# pull it.)

# The Rust toolchain of the build: CI's (1.95; Cargo.lock's sqlx 0.9 needs 1.94 already, above
# Cargo.toml's rust-version), on Debian 12 as the CI machines.
ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
# Where the runtime's files come from: the Rust image (the glibc the binary is linked against),
# or, offline, localhost/qualify-rootfs-inputs:<hash> (scripts/build-image).
ARG ROOTFS_IMAGE=docker.io/library/rust:1.95-bookworm

# --- build from source ------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# .cargo/config.toml (in the context) sets the C flags of the bundled SQLite and of mimalloc.
RUN cargo build --release --locked -p qualify-cli \
 && mkdir -p /out \
 && strip -o /out/qualify target/release/qualify

# --- the runtime's root filesystem ------------------------------------------------------------
FROM ${ROOTFS_IMAGE} AS rootfs
COPY packaging/image/make-rootfs /usr/local/bin/make-rootfs
RUN ["/bin/sh", "/usr/local/bin/make-rootfs", "/rootfs"]

FROM scratch AS runtime-base
COPY --from=rootfs /rootfs/ /
# Ownership stated, not left to how a builder treats COPY --from.
COPY --from=rootfs --chown=65532:65532 /rootfs/data/ /data/
COPY --from=rootfs --chown=65532:65532 /rootfs/home/nonroot/ /home/nonroot/

# --- the runtime: everything but the binary ---------------------------------------------------
FROM runtime-base AS runtime
# Kept equal to Cargo.toml by .ci/distribution; scripts/build-image passes the binary's own.
ARG QUALIFY_VERSION=0.1.0
# Where the source is published; release pipelines pass theirs.
ARG QUALIFY_SOURCE=https://example.invalid/qualify
LABEL org.opencontainers.image.title="qualify" \
      org.opencontainers.image.description="Partner Center customer-qualification emulator (dev auth: test networks only)" \
      org.opencontainers.image.version="${QUALIFY_VERSION}" \
      org.opencontainers.image.source="${QUALIFY_SOURCE}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
# Every `serve` flag also reads its QUALIFY_* variable (README, "qualify serve flags").
# 0.0.0.0 inside the container, so a published port reaches it. With dev auth (the default)
# that needs the explicit allowance, and the log says so at every start: anyone who can reach
# the port can mint a token. Publish it to the test job only (-p 127.0.0.1:...), never beyond.
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    QUALIFY_LISTEN=0.0.0.0:8080 \
    QUALIFY_ALLOW_DEV_AUTH_ON_NETWORK=true \
    QUALIFY_DATABASE_URL=sqlite:///data/qualify.db
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# qualify finishes in-flight requests and gives back claimed jobs on SIGTERM, then exits 0.
STOPSIGNAL SIGTERM
# GET /readyz on the address of QUALIFY_LISTEN (the image has no curl); exit 0 when it is 200.
HEALTHCHECK --interval=5s --timeout=5s --start-period=10s --retries=3 CMD ["qualify", "healthcheck"]
ENTRYPOINT ["qualify"]
CMD ["serve"]

# --- around a prebuilt binary (CI, release pipelines) -----------------------------------------
FROM runtime AS prebuilt
ARG QUALIFY_BINARY=target/release/qualify
COPY --chmod=0755 ${QUALIFY_BINARY} /usr/local/bin/qualify

# --- the default: around the binary built from source above -----------------------------------
FROM runtime AS image
COPY --from=build /out/qualify /usr/local/bin/qualify
