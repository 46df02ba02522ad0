# Releases: the chart package and the multi-platform image in dist/, pushing the image
# to a registry, and a local OCI registry for the cluster. Included by the root
# Makefile, which defines LOCALBIN, GO, HELM, VERSION, COMMIT and VERSION_LDFLAGS;
# hack/make/cluster.mk defines IMGTOOL, NICE and CHATHUB_IMAGE_FLAGS. See docs/release.md.

DIST ?= $(CURDIR)/dist
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
# The repository the chart's image.repository names; the release image is recorded
# under it in the OCI layout (what `ctr images import` tags it as).
RELEASE_REPOSITORY ?= ghcr.io/chathub/chathub
CHART_DIR ?= charts/chathub-operator
# The chart's version is the release version without its "v" (appVersion and the
# image tag keep it).
CHART_VERSION = $(patsubst v%,%,$(VERSION))
RELEASE_BUILD_DIR = $(DIST)/.build/$(VERSION)
RELEASE_IMAGE = $(DIST)/chathub-image-$(VERSION).oci.tar
RELEASE_CHART = $(DIST)/chathub-operator-$(CHART_VERSION).tgz
# image-push: the layout to push (default: this VERSION's release image) and where.
IMAGE_SRC ?= $(RELEASE_IMAGE)
IMAGE ?=
INSECURE ?=

OCIREGISTRY ?= $(LOCALBIN)/ociregistry
REGISTRY_ADDR ?= 127.0.0.1:5001
REGISTRY_DIR ?= $(CURDIR)/.cache/registry

##@ Release

.PHONY: release
release: release-version release-image release-chart ## Write dist/: the chart package, the linux/amd64+arm64 image (OCI layout tarball) and SHA256SUMS, for VERSION=vX.Y.Z[-pre].
	@cd $(DIST) && sha256sum $(notdir $(RELEASE_IMAGE)) $(notdir $(RELEASE_CHART)) > SHA256SUMS
	@echo "Release $(VERSION) (commit $(COMMIT)) in $(DIST):"
	@cd $(DIST) && for f in $(notdir $(RELEASE_IMAGE)) $(notdir $(RELEASE_CHART)) SHA256SUMS; do \
		printf '  %-44s %10s  (%s bytes)\n' "$$f" "$$(numfmt --to=iec-i --suffix=B $$(stat -c %s $$f))" "$$(stat -c %s $$f)"; \
	done

# A release version is given on the command line and is a semantic version with a "v":
# it becomes the chart's appVersion and the image tag.
.PHONY: release-version
release-version:
	@if [ "$(origin VERSION)" != "command line" ] && [ "$(origin VERSION)" != "environment" ]; then \
		echo "A release needs its version: run make $(or $(filter release%,$(MAKECMDGOALS)),release) VERSION=vX.Y.Z (git describe says $(VERSION))." >&2; exit 2; fi
	@re='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$$'; \
	[[ "$(VERSION)" =~ $$re ]] || { echo "VERSION=$(VERSION) is not a release version: give a semantic version vX.Y.Z or vX.Y.Z-pre, e.g. VERSION=v0.1.0 or VERSION=v0.2.0-rc.1." >&2; exit 2; }

.PHONY: release-binaries
release-binaries: release-version ## Cross-build chathub and chathub-data for each of RELEASE_PLATFORMS (CGO_ENABLED=0, stamped with VERSION and COMMIT).
	@for p in $(RELEASE_PLATFORMS); do \
		os=$${p%%/*}; arch=$${p#*/}; out=$(RELEASE_BUILD_DIR)/$${os}_$${arch}; mkdir -p $$out; \
		echo "go build chathub chathub-data $(VERSION) for $$p"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(NICE) $(GO) build -trimpath \
			-ldflags "-s -w $(VERSION_LDFLAGS)" -o $$out/ . ./cmd/chathub-data; \
	done

.PHONY: release-image
release-image: release-version release-binaries $(IMGTOOL) ## Write the multi-platform image (one OCI image index) to dist/chathub-image-VERSION.oci.tar.
	@$(IMGTOOL) index -o $(RELEASE_IMAGE) -name $(RELEASE_REPOSITORY):$(VERSION) \
		$(addprefix -platform ,$(RELEASE_PLATFORMS)) \
		-annotation org.opencontainers.image.version=$(VERSION) \
		-annotation org.opencontainers.image.revision=$(COMMIT) \
		-annotation org.opencontainers.image.source=https://github.com/chathub/chathub \
		$(CHATHUB_IMAGE_FLAGS) \
		-add '$(RELEASE_BUILD_DIR)/{os}_{arch}/chathub:/chathub:0755' \
		-add '$(RELEASE_BUILD_DIR)/{os}_{arch}/chathub-data:/chathub-data:0755'

.PHONY: release-chart
release-chart: release-version $(HELM) ## Package the chart with version VERSION (without the v) and appVersion VERSION into dist/.
	@mkdir -p $(DIST)
	@$(HELM) package $(CHART_DIR) --version $(CHART_VERSION) --app-version $(VERSION) -d $(DIST) >/dev/null
	@echo "chart $(CHART_DIR) $(CHART_VERSION) (appVersion $(VERSION)) -> $(RELEASE_CHART)"

.PHONY: image-push
image-push: $(IMGTOOL) ## Push the release image, every platform, to IMAGE=registry/repository:tag (VERSION=vX.Y.Z picks dist/'s; INSECURE=1: plain HTTP).
	@[ -n "$(IMAGE)" ] || { echo "Say where to push: make image-push VERSION=vX.Y.Z IMAGE=registry.example.com/chathub:vX.Y.Z" >&2; exit 2; }
	@[ -e "$(IMAGE_SRC)" ] || { echo "$(IMAGE_SRC) does not exist: run make release VERSION=vX.Y.Z first and pass the same VERSION (or IMAGE_SRC=)." >&2; exit 2; }
	@$(IMGTOOL) push -src $(IMAGE_SRC) $(if $(INSECURE),-insecure) $(IMAGE)

.PHONY: test-release
test-release: $(IMGTOOL) $(HELM) ## Test imgtool, the release build (both platforms), image-push and the local registry.
	cd hack/imgtool && HELM=$(HELM) $(NICE) $(GO) test -race -count=1 $(GOTESTFLAGS) ./...

TEST_TARGETS += test-release

##@ Local registry

.PHONY: ociregistry
ociregistry: $(OCIREGISTRY) ## Build the local OCI registry into bin/ociregistry.
$(OCIREGISTRY): $(wildcard hack/imgtool/cmd/ociregistry/*.go) hack/imgtool/go.mod hack/imgtool/go.sum
	@mkdir -p $(LOCALBIN)
	cd hack/imgtool && CGO_ENABLED=0 $(NICE) $(GO) build -trimpath -o $@ ./cmd/ociregistry

.PHONY: registry-up
registry-up: $(OCIREGISTRY) ## Start the local OCI registry on REGISTRY_ADDR (127.0.0.1:5001; state in .cache/registry) unless it runs.
	@OCIREGISTRY=$(OCIREGISTRY) REGISTRY_ADDR=$(REGISTRY_ADDR) REGISTRY_DIR=$(REGISTRY_DIR) hack/cluster/registry.sh up

.PHONY: registry-down
registry-down: ## Stop the local OCI registry (its pushed images stay in .cache/registry).
	@OCIREGISTRY=$(OCIREGISTRY) REGISTRY_ADDR=$(REGISTRY_ADDR) REGISTRY_DIR=$(REGISTRY_DIR) hack/cluster/registry.sh down

# The end-to-end tests install the operator from the local registry, so the cluster pulls the
# operator's and the chat pods' image from it instead of importing a tarball: an image index
# with the chathub image's content for linux/amd64, pushed as E2E_IMAGE by test-e2e.
E2E_IMAGE ?= $(REGISTRY_ADDR)/chathub/chathub:e2e
# Not in IMAGES_DIR: cluster-up imports every tarball there, and this one must be pulled.
E2E_IMAGE_ARCHIVE ?= $(LOCALBIN)/e2e/chathub-e2e.oci.tar
REGISTRY_ENV = OCIREGISTRY=$(OCIREGISTRY) REGISTRY_ADDR=$(REGISTRY_ADDR) REGISTRY_DIR=$(REGISTRY_DIR)
$(E2E_IMAGE_ARCHIVE): $(IMAGES_DIR)/chathub $(IMAGES_DIR)/chathub-data $(IMGTOOL)
	@mkdir -p $(dir $@)
	@$(IMGTOOL) index -o $@ -name $(E2E_IMAGE) -platform linux/amd64 $(CHATHUB_IMAGE_FLAGS) \
		-add $(IMAGES_DIR)/chathub:/chathub:0755 -add $(IMAGES_DIR)/chathub-data:/chathub-data:0755
test-e2e: $(OCIREGISTRY) $(E2E_IMAGE_ARCHIVE)
