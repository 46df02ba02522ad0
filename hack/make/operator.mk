##@ Operator

# Scale benchmark of the ChatHub controller in envtest with the PubSub service (not part of
# 'make test'): time for 100 and 500 ChatHubs to be registered, reconciles/s, memory.
.PHONY: bench-operator
bench-operator: envtest ## Run the operator scale benchmark (100 and 500 ChatHubs in envtest).
	$(GO) test ./controllers -run '^$$' -bench BenchmarkScale -benchtime 1x -timeout 30m

# The operator's envtest suite alone, with the race detector.
.PHONY: test-operator
test-operator: envtest ## Run the API and controller tests (envtest) with the race detector.
	$(GO) test -race -count=1 $(GOTESTFLAGS) ./api/... ./controllers/...
