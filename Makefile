# ptqspec: make test is what CI (.ci/run) and the README run.

GO        ?= go
BENCHTIME ?= 1s
TAGS      ?= ~@slow
SEEDS     ?= $$(seq 1 20)

.PHONY: test fmt-check vet test-race test-noasm test-slow bench demo report tools fuzz scorecard bench-baseline bench-check chromium test-seeds mutate

## test: installs the judges when missing (ONNX Runtime via npm, Chromium via apt), then gofmt check,
## go vet, race-enabled unit tests and the @fast features (strict), then the unit tests again with the
## pure-Go kernels (noasm)
test: tools chromium fmt-check vet test-race test-noasm

# Files git would track (ignored scratch folders are skipped); all .go
# files when this is not a git checkout.
GOFILES = $$(git ls-files -co --exclude-standard -- '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')

fmt-check:
	@unformatted="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt -l: these files need gofmt -w:"; echo "$$unformatted"; exit 1; \
	fi

vet:
	$(GO) vet ./...

test-race:
	$(GO) test -race -timeout 30m ./...

## test-noasm: the library's unit tests with the noasm build tag: every kernel runs its pure-Go twin, as
## on a machine without AVX2 (the features, the CLI and the ONNX Runtime tests run the asm build; the
## pure-Go float32 FMA emulation would take them past CI's time, and asm-vs-Go bit identity is tested
## in pkg/quant, pkg/quant/qnn and internal/f32gemm in both builds)
test-noasm:
	$(GO) test -tags noasm -timeout 30m $$($(GO) list ./pkg/... ./internal/... | grep -v /internal/ortrun)

## test-slow: the @slow features (MNIST training and evaluation), without -race
test-slow:
	$(GO) test ./steps -v -count=1 -run '^TestFeatures$$' -godog.tags='@slow' -timeout 60m

## test-seeds: the @fast features for seed offsets 1..20 (SEEDS="3 7" for others), one test binary
## built once; prints each seed's result and the scenarios that failed
test-seeds:
	SEEDS="$(SEEDS)" GO=$(GO) scripts/test-seeds.sh

## mutate: applies each fault of internal/mutate (rounding, per-channel ranges, MinMax, zero point, ...) to a
## snapshot of HEAD through go build -overlay, runs the @fast features on each and prints the scenarios
## that caught it; fails when a fault is caught by none, no longer applies, or the baseline fails (~10 min on 2 cores)
mutate:
	$(GO) run ./scripts/mutate $(MUTATE_FLAGS)

## bench: kernel benchmarks beside their baselines; compare runs with benchstat
bench:
	$(GO) test -run '^$$' -bench . -benchtime=$(BENCHTIME) ./pkg/...

## demo: train, quantize and report on MNIST
demo:
	$(GO) run ./cmd/ptq mnist

## report: run the features (TAGS, default ~@slow) into reports/cucumber.json and reports/junit.xml
report:
	mkdir -p reports
	cd steps && $(GO) test -count=1 -run '^TestFeatures$$' -godog.tags='$(TAGS)' -godog.concurrency=1 \
		-godog.format=pretty,cucumber:../reports/cucumber.json,junit:../reports/junit.xml

## scorecard: run the @fast features into reports/cucumber.json and render reports/acceptance.html and
## reports/acceptance.md (criteria, margins, durations against budgets, spec coverage); fails when they do
SCORECARD_TAGS ?= @fast && ~@slow
scorecard:
	@mkdir -p reports
	@status=0; \
	(cd steps && $(GO) test -count=1 -run '^TestFeatures$$' -godog.tags='$(SCORECARD_TAGS)' \
		-godog.format=progress,cucumber:../reports/cucumber.json) || status=$$?; \
	$(GO) run ./cmd/ptq scorecard -cucumber reports/cucumber.json -out reports || status=$$?; \
	exit $$status

## bench-baseline: time the kernel and model workloads of bench/ and write bench/baseline.json
bench-baseline:
	$(GO) run ./bench/benchcheck -write bench/baseline.json

## bench-check: time them again; fails when one is over 1.5x slower than its baseline, relative to a
## reference workload timed in the same process (PTQSPEC_BENCH_SLOWDOWN=name=2 injects a slowdown)
bench-check:
	$(GO) run ./bench/benchcheck -check bench/baseline.json

## chromium: install Debian's chromium, which the browser test of internal/scorecard drives headless
SUDO ?= $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@if command -v chromium >/dev/null 2>&1; then chromium --version; else \
		$(SUDO) apt-get install -y chromium || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }; fi

## tools: install the pinned ONNX Runtime (onnxruntime-node 1.30.0) that the tests use as a judge.
## --ignore-scripts: its postinstall fetches GPU parts from a host we cannot reach; the CPU library ships in the package.
tools: tools/onnxruntime/node_modules/.ptqspec-installed

tools/onnxruntime/node_modules/.ptqspec-installed: tools/onnxruntime/package.json tools/onnxruntime/package-lock.json
	cd tools/onnxruntime && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# FUZZ_TARGETS lists the native fuzz targets `make fuzz` runs, as
# package:FuzzName, one per line; add yours here. Plain `go test` runs
# each on its seed corpus; crashers the fuzzer finds land in the
# package's testdata/fuzz/FuzzName and become regression seeds.
# FUZZMINIMIZE bounds the minimization of each new input (by default Go
# spends up to 60 s on it, which can eat the whole FUZZTIME).
FUZZTIME ?= 30s
FUZZMINIMIZE ?= 1000x
FUZZ_TARGETS = \
	./pkg/nn:FuzzLoad \
	./pkg/nn:FuzzLoadHeader \
	./pkg/ptq:FuzzLoadModel \
	./pkg/datasets:FuzzReadIDX \
	./pkg/onnxio:FuzzImport \
	./pkg/quant:FuzzGemmPaths \
	./pkg/quant/onnx:FuzzConv \
	./pkg/quant/onnx:FuzzMatMul \
	./pkg/quant/qnn:FuzzRequantize

## fuzz: run every FUZZ_TARGETS entry for FUZZTIME (default 30s) each
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "== $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE); \
	done
