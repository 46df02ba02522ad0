##@ PubSub service (pubsub/, bench/wpsload/)

# Load harness settings (see docs/pubsub.md); not part of 'make test'.
BENCH_PUBSUB_FLAGS ?=

.PHONY: bench-pubsub
bench-pubsub: ## Run the PubSub service's load harness (10,000 connections, prints a table).
	$(GO) build -o $(LOCALBIN)/chathub .
	ulimit -n 20000 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	$(GO) run ./bench/wpsload --chathub $(LOCALBIN)/chathub $(BENCH_PUBSUB_FLAGS)

# The target's name before the service was called PubSub (issue texts still use it).
.PHONY: bench-webpubsub
bench-webpubsub: bench-pubsub
