##@ Operator

# Scale benchmark of the operator as a black box (bench/operator, not part of 'make test'): a real
# kube-apiserver with 5,000 unrelated Secrets, the real 'chathub manager' binary, 500 ChatHubs;
# prints the time until all are Ready and the manager process's RSS and heap. Then
# BenchmarkSharedInstance (envtest): objects, pods and summed memory requests of 500 ChatHubs on
# one WebPubSubService against 500 embedded ones. To compare with
# another build: make bench-operator BENCH_OPERATOR_FLAGS='--chathub before=/path/to/old,after=bin/chathub --rounds 2'
BENCH_OPERATOR_FLAGS ?= --chathub $(LOCALBIN)/chathub

.PHONY: bench-operator
bench-operator: envtest ## Run the operator scale benchmarks (500 ChatHubs and 5,000 Secrets; 500 hubs on one WebPubSubService vs 500 embedded).
	$(GO) build -o $(LOCALBIN)/chathub .
	$(GO) run ./bench/operator $(BENCH_OPERATOR_FLAGS)
	$(GO) test ./controllers -run '^$$' -bench BenchmarkSharedInstance -benchtime 1x -timeout 30m

# The operator's envtest suite alone, with the race detector.
.PHONY: test-operator
test-operator: envtest ## Run the API and controller tests (envtest) with the race detector.
	$(GO) test -race -count=1 $(GOTESTFLAGS) ./api/... ./controllers/...
