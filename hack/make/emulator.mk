##@ Local Web PubSub service

# Load harness settings (see docs/webpubsub-service.md); not part of 'make test'.
BENCH_WEBPUBSUB_FLAGS ?=

.PHONY: bench-webpubsub
bench-webpubsub: ## Run the local Web PubSub load harness (10,000 connections, prints a table).
	$(GO) build -o $(LOCALBIN)/chathub .
	ulimit -n 20000 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	$(GO) run ./bench/wpsload --chathub $(LOCALBIN)/chathub $(BENCH_WEBPUBSUB_FLAGS)
