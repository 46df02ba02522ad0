# syntax=docker/dockerfile:1
# The chathub image: /chathub, one static binary that runs every role
# (manager, chatserver, pubsub), and /chathub-data, the chatserver and pubsub
# roles without the Kubernetes libraries, which the operator runs for the
# chat server and PubSub service pods (they idle in a quarter of the
# memory). `make image` builds the equivalent image without Docker
# (hack/imgtool); this file is for users with a container engine:
#   docker build -t chathub:dev .

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so source edits reuse the module layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/chathub . && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w" -o /out/chathub-data ./cmd/chathub-data

# distroless static: CA certificates, /etc/passwd with nonroot, no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/chathub /out/chathub-data /
USER 65532:65532
ENTRYPOINT ["/chathub"]
