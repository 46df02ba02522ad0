##@ PubSub service: SDK compatibility (test/compat/)

# The compatibility tests run a real `chathub pubsub` process and the official Node SDKs
# from $(NPM_DIR)/node_modules, then the same SDK tests against three `chathub pubsub
# --nats-url` replicas sharing their hubs through a nats-server in the test process, behind
# a round-robin proxy (the *Replicas tests). `make test-unit` (go test ./...) already
# includes them; this target runs only them, e.g. while working on the PubSub service.

GO ?= go
COMPAT_TESTFLAGS ?=

.PHONY: test-compat
test-compat: npm ## Run the Node SDK compatibility tests of the PubSub service.
	$(GO) test -race -count=1 -timeout 10m $(COMPAT_TESTFLAGS) ./test/compat/...

.PHONY: test-upstream
test-upstream: ## Run the tests of the PubSub service's hub settings, upstream dispatcher and ARM API.
	$(GO) test -race -count=1 ./pubsub/settings/... ./pubsub/upstream/... ./pubsub/arm/...
