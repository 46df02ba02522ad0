##@ PubSub service (pubsub/, bench/wpsload/)

# Load harness settings (see docs/pubsub.md); not part of 'make test'.
BENCH_PUBSUB_FLAGS ?=

# Centrifugo, the self-hosted peer the load harness compares the PubSub service with. Built
# from the Go module proxy only for the benchmark (not by 'make tools' or 'make test').
CENTRIFUGO_VERSION ?= v6.9.1
CENTRIFUGO ?= $(LOCALBIN)/centrifugo-$(CENTRIFUGO_VERSION)

.PHONY: centrifugo
centrifugo: $(CENTRIFUGO) ## Build Centrifugo $(CENTRIFUGO_VERSION) into bin/centrifugo-<version> (for bench-pubsub).
$(CENTRIFUGO):
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN=$$tmp CGO_ENABLED=0 nice $(GO) install -trimpath \
		-ldflags "-s -w -X github.com/centrifugal/centrifugo/v6/internal/build.Version=$(CENTRIFUGO_VERSION:v%=%)" \
		github.com/centrifugal/centrifugo/v6@$(CENTRIFUGO_VERSION); \
	mv "$$tmp/centrifugo" $@

.PHONY: bench-pubsub
bench-pubsub: $(CENTRIFUGO) ## Run the PubSub service's load harness (10,000 connections on one replica, then on three sharing the hub through NATS; compares with Centrifugo and a naive floor; prints tables).
	$(GO) build -o $(LOCALBIN)/chathub .
	$(GO) build -o $(LOCALBIN)/wsfloor ./bench/wsfloor
	ulimit -n 20000 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	$(GO) run ./bench/wpsload --chathub $(LOCALBIN)/chathub --centrifugo $(CENTRIFUGO) --floor $(LOCALBIN)/wsfloor $(BENCH_PUBSUB_FLAGS)

# The target's name before the service was called PubSub (issue texts still use it).
.PHONY: bench-webpubsub
bench-webpubsub: bench-pubsub
