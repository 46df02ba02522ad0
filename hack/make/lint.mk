##@ Lint

# golangci-lint runs the linters configured in .golangci.yml (staticcheck, unused, errorlint,
# gosec, revive, ...). It is built from the Go module proxy into bin/, like the other tools.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
# Extra flags, e.g. GOLANGCI_LINT_FLAGS=--fix or GOLANGCI_LINT_FLAGS='--new-from-rev=HEAD~1'.
GOLANGCI_LINT_FLAGS ?=

.PHONY: lint
lint: golangci-lint ## Run golangci-lint (.golangci.yml) on every package.
	$(GOLANGCI_LINT) run $(GOLANGCI_LINT_FLAGS) ./...

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint into bin/.
$(GOLANGCI_LINT): $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
	ln -sf $(notdir $<) $@
$(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION):
	$(call go-install-tool,$@,github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

TOOLS += golangci-lint
TEST_TARGETS += lint
