# The local cluster, the image, the chart, the demo and the end-to-end tests.
# Included by the root Makefile, which defines LOCALBIN, GO, K8S_BIN,
# K8S_VERSION, K8S_LDFLAGS, HELM, CHROMIUM and the envtest binaries
# ($(K8S_BIN)/kube-apiserver, etcd, kubectl). See docs/e2e.md.

# Everything is built at the lowest priority: the machine is shared.
NICE ?= nice -n 19
COREDNS_VERSION ?= v1.15.0
IMAGE_TAG ?= chathub:dev
PAUSE_TAG ?= registry.k8s.io/pause:3.10
COREDNS_TAG ?= localhost/coredns:$(COREDNS_VERSION)
# NATS, which the operator runs for a WebPubSubService with spec.nats.managed
# (the scale-out end-to-end test): nats-server built from the Go module proxy.
NATS_SERVER_VERSION ?= v2.15.2
NATS_TAG ?= localhost/nats:$(NATS_SERVER_VERSION)
IMAGES_DIR ?= $(LOCALBIN)/images
IMGTOOL ?= $(LOCALBIN)/imgtool
COREDNS ?= $(LOCALBIN)/coredns
CLUSTER_DIR ?= $(CURDIR)/.cache/cluster
KUBECTL ?= $(K8S_BIN)/kubectl
CLUSTER_KUBECONFIG := $(CLUSTER_DIR)/kubeconfig
CA_CERTS ?= /etc/ssl/certs/ca-certificates.crt
CLUSTER_APT_PACKAGES := containerd runc containernetworking-plugins iptables conntrack openssl ca-certificates

# The demo and the e2e tests install the chart into this namespace.
OPERATOR_NAMESPACE ?= chathub-system
OPERATOR_RELEASE ?= chathub-operator
DEMO_NAMESPACE ?= chathub-demo
DEMO_PORT ?= 8080
DEMO_SAMPLE ?= $(firstword $(wildcard config/samples/chat_v1_chathub_embedded.yaml config/samples/chat_v1_chathub.yaml) hack/cluster/demo-chathub.yaml)

CLUSTER_ENV = CLUSTER_DIR=$(CLUSTER_DIR) K8S_BIN=$(K8S_BIN) ETCD=$(K8S_BIN)/etcd \
	IMAGES_DIR=$(IMAGES_DIR) KUBECTL=$(KUBECTL) REGISTRY_ADDR=$(REGISTRY_ADDR) CHECKOUT=$(CURDIR)

# `make test` and `make test-e2e` take down a cluster they brought up;
# KEEP_CLUSTER=1 keeps it for fast reruns (a cluster already up is always kept).
KEEP_CLUSTER ?=
# `make cluster-down ORPHAN=1` takes down the machine's cluster whatever
# checkout started it (see hack/cluster/down.sh).
ORPHAN ?=

K8S_NODE_BINARIES := kube-controller-manager kube-scheduler kubelet kube-proxy
K8S_NODE_STAMP := $(K8S_BIN)/.node-binaries-$(K8S_VERSION)

##@ Local cluster

.PHONY: cluster-deps
cluster-deps: ## Install the Debian packages of the local cluster (containerd, runc, CNI plugins, iptables, conntrack) when missing.
	@missing=""; for p in $(CLUSTER_APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install$$missing"; \
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
		fi; \
	fi

.PHONY: cluster-binaries
cluster-binaries: envtest $(addprefix $(K8S_BIN)/,$(K8S_NODE_BINARIES)) $(COREDNS) ## Build the Kubernetes node binaries, etcd and CoreDNS into bin/ (once per pinned version).

# The four node binaries come from one `go build` (shared compilation), into
# versioned files; the unversioned names are links, as for kube-apiserver.
# Same flags and environment as the kube-apiserver build (no -trimpath, cgo
# as default), so they reuse its compiled packages from the Go build cache.
$(K8S_NODE_STAMP): hack/tools/k8s/go.mod
	@mkdir -p $(K8S_BIN)
	@echo "Building $(K8S_NODE_BINARIES) $(K8S_VERSION) (several minutes on 2 cores)"
	@set -e; tmp=$$(mktemp -d); \
	cd hack/tools/k8s && $(NICE) $(GO) build -o $$tmp/ -ldflags "$(K8S_LDFLAGS)" \
		$(addprefix k8s.io/kubernetes/cmd/,$(K8S_NODE_BINARIES)); \
	for b in $(K8S_NODE_BINARIES); do mv $$tmp/$$b $(K8S_BIN)/$$b-$(K8S_VERSION); done; rm -rf $$tmp
	@touch $@ && touch $(foreach b,$(K8S_NODE_BINARIES),$(K8S_BIN)/$(b)-$(K8S_VERSION))
$(addprefix $(K8S_BIN)/,$(K8S_NODE_BINARIES)): $(K8S_BIN)/%: $(K8S_NODE_STAMP)
	ln -sf $*-$(K8S_VERSION) $@

.PHONY: coredns
coredns: $(COREDNS) ## Build CoreDNS (only the plugins the cluster uses) into bin/coredns.
$(COREDNS): $(LOCALBIN)/coredns-$(COREDNS_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/coredns-$(COREDNS_VERSION): hack/tools/coredns/go.mod hack/tools/coredns/main.go
	@mkdir -p $(LOCALBIN)
	cd hack/tools/coredns && CGO_ENABLED=0 $(NICE) $(GO) build -trimpath -ldflags "-s -w" -o $@.tmp .
	mv $@.tmp $@

.PHONY: cluster-up
cluster-up: cluster-deps cluster-binaries image $(IMAGES_DIR)/coredns.tar ## Start the local single-node cluster (idempotent); prints the KUBECONFIG to use.
	@$(CLUSTER_ENV) hack/cluster/up.sh

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove every process, mount, link, route and iptables rule it made (ORPHAN=1: another checkout's).
	@$(CLUSTER_ENV) ORPHAN=$(ORPHAN) hack/cluster/down.sh

.PHONY: cluster-load
cluster-load: image ## Import changed image tarballs into the running cluster.
	@$(CLUSTER_ENV) hack/cluster/load-images.sh

##@ Image

.PHONY: image
image: $(IMAGES_DIR)/chathub.tar $(IMAGES_DIR)/pause.tar ## Build the chathub image (tag chathub:dev) as a docker tarball in bin/images, without Docker.

.PHONY: imgtool
imgtool: $(IMGTOOL)
$(IMGTOOL): $(wildcard hack/imgtool/*.go) hack/imgtool/go.mod hack/imgtool/go.sum
	@mkdir -p $(LOCALBIN)
	cd hack/imgtool && $(NICE) $(GO) build -trimpath -o $@ .

# go build runs every time (its cache makes it quick); the binary is replaced
# only when it changed, so the tarball is rebuilt only on change.
.PHONY: FORCE
FORCE:
# The image holds two binaries: /chathub (every role; the entrypoint, run by
# the operator's pod) and /chathub-data (chatserver and pubsub only, no
# Kubernetes libraries; the operator runs it for the pods it creates, which
# idle in a quarter of the memory: make bench-idle).
$(IMAGES_DIR)/chathub: FORCE
	@mkdir -p $(IMAGES_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(NICE) $(GO) build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" -o $@.new .
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi
$(IMAGES_DIR)/chathub-data: FORCE
	@mkdir -p $(IMAGES_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(NICE) $(GO) build -trimpath -ldflags "-s -w $(VERSION_LDFLAGS)" -o $@.new ./cmd/chathub-data
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi
# The chathub image's content besides its binaries; the release image
# (hack/make/release.mk) has the same.
CHATHUB_IMAGE_FLAGS = -entrypoint /chathub -user 65532:65532 -nonroot \
	-env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
	-add $(CA_CERTS):/etc/ssl/certs/ca-certificates.crt:0644
$(IMAGES_DIR)/chathub.tar: $(IMAGES_DIR)/chathub $(IMAGES_DIR)/chathub-data $(IMGTOOL)
	$(IMGTOOL) -o $@ -tag $(IMAGE_TAG) $(CHATHUB_IMAGE_FLAGS) \
		-add $(IMAGES_DIR)/chathub:/chathub:0755 -add $(IMAGES_DIR)/chathub-data:/chathub-data:0755

$(IMAGES_DIR)/pause: hack/pause/main.go
	@mkdir -p $(IMAGES_DIR)
	CGO_ENABLED=0 $(NICE) $(GO) build -trimpath -ldflags "-s -w" -o $@ ./hack/pause
$(IMAGES_DIR)/pause.tar: $(IMAGES_DIR)/pause $(IMGTOOL)
	$(IMGTOOL) -o $@ -tag $(PAUSE_TAG) -entrypoint /pause -user 65535:65535 -add $<:/pause:0755

$(LOCALBIN)/nats-server-$(NATS_SERVER_VERSION):
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	GOBIN=$$tmp CGO_ENABLED=0 $(NICE) $(GO) install -trimpath -ldflags "-s -w" github.com/nats-io/nats-server/v2@$(NATS_SERVER_VERSION); \
	mv "$$tmp/nats-server" $@

$(IMAGES_DIR)/nats.tar: $(LOCALBIN)/nats-server-$(NATS_SERVER_VERSION) $(IMGTOOL)
	@mkdir -p $(IMAGES_DIR)
	$(IMGTOOL) -o $@ -tag $(NATS_TAG) -entrypoint /nats-server -user 65532:65532 -nonroot -add $<:/nats-server:0755

$(IMAGES_DIR)/coredns.tar: $(LOCALBIN)/coredns-$(COREDNS_VERSION) $(IMGTOOL)
	@mkdir -p $(IMAGES_DIR)
	$(IMGTOOL) -o $@ -tag $(COREDNS_TAG) -entrypoint /coredns -user 65532:65532 -nonroot -add $<:/coredns:0755

##@ Chart

.PHONY: chart-manifests
chart-manifests: ## Rewrite the chart's CRD template, manager RBAC rules and README from config/ and values.yaml (run by 'make manifests').
	@hack/chart-manifests.sh
	@$(GO) run ./hack/chartdoc -chart charts/chathub-operator

.PHONY: helm-lint
helm-lint: helm ## Lint the chart (default values, the namespaced variant and every optional object).
	$(HELM) lint --strict charts/chathub-operator
	$(HELM) lint --strict charts/chathub-operator --set 'watchNamespaces={team-a,team-b}' \
		--set metrics.serviceMonitor.enabled=true --set crds.enabled=false
	$(HELM) lint --strict charts/chathub-operator --set replicas=2 --set podDisruptionBudget.enabled=true \
		--set metrics.podMonitor.enabled=true --set grafanaDashboard.enabled=true --set crds.keep=false

.PHONY: test-chart
test-chart: helm-lint envtest ## Render the chart with several values and validate it against a real kube-apiserver (server-side dry run).
	HELM=$(HELM) KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS) $(GO) test -race -count=1 -tags chart $(GOTESTFLAGS) ./test/chart/...

TEST_TARGETS += test-chart

##@ Demo and end-to-end tests

DEMO_ENV = $(CLUSTER_ENV) HELM=$(HELM) OPERATOR_RELEASE=$(OPERATOR_RELEASE) \
	OPERATOR_NAMESPACE=$(OPERATOR_NAMESPACE) DEMO_NAMESPACE=$(DEMO_NAMESPACE) DEMO_PORT=$(DEMO_PORT) \
	DEMO_SAMPLE=$(DEMO_SAMPLE)

.PHONY: demo
demo: cluster-up helm ## Local cluster + operator (Helm) + a sample ChatHub, chat at http://localhost:8080.
	@$(DEMO_ENV) hack/cluster/demo.sh

.PHONY: demo-down
demo-down: ## Stop the demo's port-forward and remove the sample and the operator (the cluster stays).
	@$(DEMO_ENV) hack/cluster/demo-down.sh

# The e2e tests need the cluster (root), helm and Debian's Chromium ('make
# chromium', in hack/make/chat.mk), and install the chart under their own
# release name.
E2E_CHROMIUM_TARGET := $(if $(shell grep -ls '^chromium:' hack/make/*.mk),chromium)
# The cluster is brought up here rather than by a cluster-up prerequisite,
# to know whether it was up before: only a cluster this target started is
# taken down at the end (also on failure or Ctrl-C), unless KEEP_CLUSTER=1.
# up.sh exits 3 when another checkout's cluster runs: nothing to take down.
.PHONY: test-e2e
test-e2e: cluster-deps cluster-binaries image $(IMAGES_DIR)/coredns.tar $(IMAGES_DIR)/nats.tar helm $(E2E_CHROMIUM_TARGET) ## Run the end-to-end tests on the local cluster (real browsers, real operator); KEEP_CLUSTER=1 keeps the cluster it starts.
	@was_up=; $(CLUSTER_ENV) hack/cluster/status.sh && was_up=1; \
	reg_was_up=; $(REGISTRY_ENV) hack/cluster/registry.sh status && reg_was_up=1; \
	down() { [ -n "$$reg_was_up" ] || $(REGISTRY_ENV) hack/cluster/registry.sh down || true; \
		if [ -z "$$was_up" ] && [ "$(KEEP_CLUSTER)" != 1 ]; then $(CLUSTER_ENV) hack/cluster/down.sh; \
		elif [ -z "$$was_up" ]; then echo "KEEP_CLUSTER=1: the cluster stays up (make cluster-down)"; fi; }; \
	rc=0; $(CLUSTER_ENV) hack/cluster/up.sh >/dev/null || rc=$$?; \
	if [ $$rc = 3 ]; then exit 3; fi; \
	trap 'down; exit 130' INT TERM; \
	if [ $$rc = 0 ]; then \
		$(REGISTRY_ENV) hack/cluster/registry.sh up && \
		$(IMGTOOL) push -src $(E2E_IMAGE_ARCHIVE) $(E2E_IMAGE) || rc=$$?; \
	fi; \
	if [ $$rc = 0 ]; then \
		E2E_KUBECONFIG=$(CLUSTER_KUBECONFIG) E2E_KUBECTL=$(KUBECTL) E2E_HELM=$(HELM) E2E_CHROMIUM=$(CHROMIUM) \
		E2E_CHART=$(CURDIR)/charts/chathub-operator E2E_STATE_DIR=$(CLUSTER_DIR)/e2e E2E_IMAGE=$(E2E_IMAGE) E2E_REGISTRY_LOG=$(REGISTRY_DIR)/ociregistry.log E2E_NATS_IMAGE=$(NATS_TAG) \
			$(GO) test -count=1 -timeout 20m -tags e2e $(GOTESTFLAGS) ./test/e2e/... || rc=$$?; \
	fi; \
	trap - INT TERM; down || rc=$$((rc ? rc : 1)); exit $$rc

TEST_TARGETS += test-e2e

# After test-e2e (which takes its cluster down): `make demo`'s scripts are
# interrupted (SIGINT) while they wait for the ChatHub to be Ready, then
# cluster-down must leave nothing of the cluster on the machine. It needs the
# machine without a cluster and skips when one runs (KEEP_CLUSTER=1).
.PHONY: test-cluster-teardown
test-cluster-teardown: cluster-deps cluster-binaries image $(IMAGES_DIR)/coredns.tar helm ## Interrupt the demo while it waits for Ready, take the cluster down, and check the machine is clean.
	@if [ -e /run/chathub-cluster/owner ]; then \
		echo "test-cluster-teardown: NOT RUN: a local cluster is up (make demo, KEEP_CLUSTER=1, or started before make test) and the test would take it down; run 'make cluster-down', then 'make test-cluster-teardown'."; \
	else \
		echo "$(DEMO_ENV) $(GO) test -count=1 -timeout 15m -tags teardown $(GOTESTFLAGS) ./test/teardown/..."; \
		$(DEMO_ENV) $(GO) test -count=1 -timeout 15m -tags teardown $(GOTESTFLAGS) ./test/teardown/...; \
	fi

TEST_TARGETS += test-cluster-teardown
