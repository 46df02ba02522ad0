# ChatHub — build, test and generate.
#
# A fresh machine needs only Go, gcc, Node/npm, kubectl and git: every other tool is
# pinned here and built from the Go module proxy into ./bin (rebuilt only when missing
# or when its pinned version changes), Debian packages come from apt-get, npm packages
# from hack/npm/package-lock.json.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
LOCALBIN ?= $(CURDIR)/bin
export PATH := $(LOCALBIN):$(PATH)

## Pinned tool versions.
CONTROLLER_TOOLS_VERSION ?= v0.23.0
HELM_VERSION ?= v3.22.0
K8S_VERSION ?= v1.37.2
ETCD_VERSION ?= v3.6.16

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
HELM ?= $(LOCALBIN)/helm
K8S_BIN ?= $(LOCALBIN)/k8s
KUBEBUILDER_ASSETS ?= $(K8S_BIN)
export KUBEBUILDER_ASSETS
NPM_DIR ?= hack/npm
CHROMIUM ?= /usr/bin/chromium

# Go test flags: race detector always; GOTESTFLAGS adds more (e.g. -run, -v).
GOTESTFLAGS ?=
# Inputs per fuzz target: a count, not a duration (see hack/fuzz.sh, golang/go#75804).
FUZZTIME ?= 20000x
K8S_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION)))

# The version and commit stamped into the chathub binaries (chathub version, the
# chathub_build_info metric). Computed once; no timestamps, so builds stay reproducible.
ifeq ($(origin VERSION),undefined)
VERSION := $(or $(shell git describe --tags --always --dirty 2>/dev/null),dev)
endif
ifeq ($(origin COMMIT),undefined)
COMMIT := $(or $(shell git rev-parse --short=12 HEAD 2>/dev/null),unknown)
endif
VERSION_LDFLAGS := -X github.com/chathub/chathub/internal/version.Version=$(VERSION) \
	-X github.com/chathub/chathub/internal/version.Commit=$(COMMIT)

# Parts of the project add their own targets in hack/make/*.mk and append to these. They are
# included here, before the rules below, because make expands prerequisites as it reads them.
TEST_TARGETS ?=
TOOLS ?=
-include $(sort $(wildcard hack/make/*.mk))

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
		/^[a-zA-Z0-9_.-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
		/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files --cached --others --exclude-standard '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests (config/ and the chart).
	$(CONTROLLER_GEN) rbac:roleName=chathub-manager-role crd paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	@if $(MAKE) -n chart-manifests >/dev/null 2>&1; then $(MAKE) --no-print-directory chart-manifests; fi

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: verify
verify: manifests generate ## Regenerate everything, check formatting, files, license headers and cross-builds; fail on any drift.
	@test -z "$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'))" || \
		{ echo "gofmt needed on:"; gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go'); exit 1; }
	@git diff --exit-code -- . ':(exclude)go.sum' || \
		{ echo "Generated files are out of date: run 'make manifests generate' and commit the result."; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard config charts api)" || \
		{ echo "Generated files are not committed:"; git ls-files --others --exclude-standard config charts api; exit 1; }
	@hack/verify-files.sh
	@hack/spdx.sh
	@$(MAKE) --no-print-directory build-cross

##@ Build

.PHONY: build
build: ## Build the chathub binary into bin/chathub, stamped with VERSION and COMMIT.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(VERSION_LDFLAGS)" -o $(LOCALBIN)/chathub .

# Platforms besides linux/amd64 that every package must build for (run by 'make verify').
# -trimpath as in the release build (hack/make/release.mk), so both share the build cache.
CROSS_PLATFORMS ?= linux/arm64 darwin/arm64 windows/amd64

.PHONY: build-cross
build-cross: ## Build every package for each of CROSS_PLATFORMS (CGO_ENABLED=0); report each failing platform.
	@failed=""; for p in $(CROSS_PLATFORMS); do \
		echo "go build ./... for $$p"; \
		if ! CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} nice $(GO) build -trimpath ./... ; then \
			echo "FAILED: go build ./... for $$p (CGO_ENABLED=0)"; failed="$$failed $$p"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "The build fails for:$$failed"; exit 1; fi

##@ Test

.PHONY: test
# In CI (CI=true) the tree must also match its generators.
test: tools $(if $(CI),verify) vet test-unit test-fuzz $(TEST_TARGETS) ## Run every test (the CI command).

.PHONY: test-unit
test-unit: envtest npm ## Run the Go tests with the race detector (envtest included).
	$(GO) test -race -count=1 $(GOTESTFLAGS) ./...

.PHONY: test-fuzz
test-fuzz: ## Run each fuzz target briefly (FUZZTIME inputs each).
	@hack/fuzz.sh $(FUZZTIME)

.PHONY: tools
tools: controller-gen helm envtest npm $(TOOLS) ## Build or install every tool the tests use.

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Build controller-gen into bin/.
$(CONTROLLER_GEN): $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION):
	$(call go-install-tool,$@,sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: helm
helm: $(HELM) ## Build helm into bin/.
$(HELM): $(LOCALBIN)/helm-$(HELM_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/helm-$(HELM_VERSION):
	$(call go-install-tool,$@,helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: envtest
envtest: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kubectl ## Build the envtest binaries (kube-apiserver, etcd) into bin/k8s.
$(K8S_BIN)/kube-apiserver: $(K8S_BIN)/kube-apiserver-$(K8S_VERSION)
	ln -sf $(notdir $<) $@
$(K8S_BIN)/kube-apiserver-$(K8S_VERSION): hack/tools/k8s/go.mod
	@mkdir -p $(K8S_BIN)
	cd hack/tools/k8s && nice $(GO) build -o $@.tmp -ldflags "$(K8S_LDFLAGS)" k8s.io/kubernetes/cmd/kube-apiserver
	mv $@.tmp $@
$(K8S_BIN)/etcd: $(K8S_BIN)/etcd-$(ETCD_VERSION)
	ln -sf $(notdir $<) $@
$(K8S_BIN)/etcd-$(ETCD_VERSION): hack/tools/etcd/go.mod
	@mkdir -p $(K8S_BIN)
	cd hack/tools/etcd && nice $(GO) build -o $@.tmp -ldflags "-s -w" go.etcd.io/etcd/server/v3
	mv $@.tmp $@
# envtest looks for kubectl beside the other assets; the machine's kubectl serves.
$(K8S_BIN)/kubectl:
	@mkdir -p $(K8S_BIN)
	ln -sf "$$(command -v kubectl)" $@

.PHONY: npm
npm: $(NPM_DIR)/node_modules/.package-lock.json ## Install the npm packages the tests use (from the lock file).
$(NPM_DIR)/node_modules/.package-lock.json: $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	cd $(NPM_DIR) && npm ci --no-audit --no-fund
	@touch $@

# go-install-tool builds $(2)@$(3) with the Go module proxy into the versioned path $(1).
define go-install-tool
@mkdir -p $(LOCALBIN)
@set -e; tmp=$$(mktemp -d); \
	echo "Building $(2)@$(3)"; \
	GOBIN=$$tmp nice $(GO) install $(2)@$(3); \
	mv $$tmp/$$(basename $(2)) $(1); rm -rf $$tmp
endef

