# syntax=docker/dockerfile:1
#
# followthrough's container image: one static binary on distroless (CA certificates and time
# zones, no shell, no package manager), running as the non-root user 65532 with its SQLite
# database on the volume /data.
#
#   docker build --build-arg VERSION=1.2.3 --build-arg REVISION=$(git rev-parse HEAD) -t followthrough .
#   docker run -p 8080:8080 -v ft-data:/data -v ./config.yaml:/etc/followthrough/config.yaml:ro followthrough
#
# The `go build` line below is the one test/image_test.go runs (it reads it from this file), so
# the binary the tests check is the binary this image ships: keep it on one RUN instruction.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/followthrough ./cmd/followthrough
# An empty /data owned by the runtime user: a new named volume copies it, ownership included.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="followthrough" \
      org.opencontainers.image.description="Turns signed-off postmortems into one GitHub or Jira ticket per action item and follows them to completion" \
      org.opencontainers.image.source="https://github.com/followthrough/followthrough" \
      org.opencontainers.image.documentation="https://github.com/followthrough/followthrough#deploying" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/followthrough /usr/local/bin/followthrough
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/followthrough"]
CMD ["serve", "--config", "/etc/followthrough/config.yaml"]
