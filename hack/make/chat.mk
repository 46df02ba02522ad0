##@ Chat server (chatserver/, bench/chat/)

.PHONY: chromium
chromium: ## Install Debian's chromium for the chat server's browser test.
	command -v chromium || (apt-get update && apt-get install -y chromium)

TOOLS += chromium

.PHONY: test-chat
test-chat: chromium ## Run only the chat server's tests (handlers, integration, headless browser) with -race.
	$(GO) test -race -count=1 $(GOTESTFLAGS) ./chatserver/...

# Flags for bin/chat-bench, e.g. BENCH_CHAT_ARGS="-n 100 -rate 100 -skip-baseline" or
# "-scenarios many -profile-dir /tmp/prof" (see docs/chatserver.md).
BENCH_CHAT_ARGS ?= -n 100,1000 -rate 50,10

.PHONY: bench-chat
bench-chat: npm build ## Benchmark the chat server against the Node.js baseline (not part of make test).
	$(GO) build -o $(LOCALBIN)/chat-bench ./bench/chat
	nice $(LOCALBIN)/chat-bench -chathub $(LOCALBIN)/chathub $(BENCH_CHAT_ARGS)
