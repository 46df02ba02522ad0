##@ Chat server (chatserver/, bench/chat/)

.PHONY: chromium
chromium: ## Install Debian's chromium for the chat server's browser test.
	command -v chromium || (apt-get update && apt-get install -y chromium)

TOOLS += chromium

.PHONY: test-chat
test-chat: chromium oauth2-proxy ## Run only the chat server's tests (handlers, integration, headless browser) with -race.
	$(GO) test -race -count=1 $(GOTESTFLAGS) ./chatserver/...

# Flags for bin/chat-bench, e.g. BENCH_CHAT_ARGS="-n 100 -rate 100 -skip-baseline" or
# "-scenarios many -profile-dir /tmp/prof" (see docs/chatserver.md).
BENCH_CHAT_ARGS ?= -n 100,1000 -rate 50,10

.PHONY: bench-chat
bench-chat: npm build ## Benchmark the chat server against the Node.js baseline and the naive floor of the chat path (not part of make test).
	$(GO) build -o $(LOCALBIN)/chat-bench ./bench/chat
	$(GO) build -o $(LOCALBIN)/wsfloor ./bench/wsfloor
	nice $(LOCALBIN)/chat-bench -chathub $(LOCALBIN)/chathub -floor $(LOCALBIN)/wsfloor $(BENCH_CHAT_ARGS)

# oauth2-proxy, the authenticating proxy in front of the chat in the test of
# `--auth header` (chatserver/auth_proxy_test.go). Built from the Go module proxy.
OAUTH2_PROXY_VERSION ?= v7.15.6
OAUTH2_PROXY ?= $(LOCALBIN)/oauth2-proxy
export OAUTH2_PROXY

.PHONY: oauth2-proxy
oauth2-proxy: $(OAUTH2_PROXY) ## Build oauth2-proxy into bin/ (the --auth header test).
$(OAUTH2_PROXY): $(LOCALBIN)/oauth2-proxy-$(OAUTH2_PROXY_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/oauth2-proxy-$(OAUTH2_PROXY_VERSION):
	@mkdir -p $(LOCALBIN)
	@set -e; tmp=$$(mktemp -d); echo "Building oauth2-proxy $(OAUTH2_PROXY_VERSION)"; \
		GOBIN=$$tmp CGO_ENABLED=0 nice $(GO) install -trimpath -ldflags "-s -w" \
			github.com/oauth2-proxy/oauth2-proxy/v7@$(OAUTH2_PROXY_VERSION); \
		mv $$tmp/oauth2-proxy $@; rm -rf $$tmp

TOOLS += oauth2-proxy
# The chat server's tests run oauth2-proxy (and Chromium).
test-unit: oauth2-proxy chromium
