##@ Idle memory (bench/idle/)

# Where bench-idle builds the binaries it measures, as the image builds them.
IDLE_BIN_DIR ?= $(LOCALBIN)/bench-idle
# Flags for the harness, e.g. BENCH_IDLE_FLAGS="-runs 5 -env GOMEMLIMIT=16MiB" or "-inittrace 20".
BENCH_IDLE_FLAGS ?=

.PHONY: bench-idle
bench-idle: ## Measure the idle memory of the chat server and PubSub service pods' processes, both binaries (not part of make test).
	@mkdir -p $(IDLE_BIN_DIR)
	CGO_ENABLED=0 nice $(GO) build -trimpath -ldflags "-s -w" -o $(IDLE_BIN_DIR)/chathub .
	CGO_ENABLED=0 nice $(GO) build -trimpath -ldflags "-s -w" -o $(IDLE_BIN_DIR)/chathub-data ./cmd/chathub-data
	$(GO) build -o $(IDLE_BIN_DIR)/idle ./bench/idle
	nice $(IDLE_BIN_DIR)/idle -bin chathub=$(IDLE_BIN_DIR)/chathub -bin chathub-data=$(IDLE_BIN_DIR)/chathub-data $(BENCH_IDLE_FLAGS)
