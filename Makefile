# Taskmaster. Quick start on a fresh Debian 12 machine (as root):
#   make run    bootstrap, build, and run the example workflow end to end
#   make test   bootstrap, build, and run every test suite (services started and stopped here)
#   make fuzz   build the libFuzzer targets (fuzz/) and run each for FUZZ_SECONDS
#   make chaos  the chaos suite at length: more seeds and faults (RELIABILITY.md)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
# Seconds of fuzzing per target: `make fuzz`, and the short run of `make test`.
FUZZ_SECONDS ?= 300
TEST_FUZZ_SECONDS ?= 20
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
export CCACHE_DIR ?= $(HOME)/.cache/taskmaster-ccache
# Paths relative to the checkout, so a fresh clone elsewhere hits the same cache.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all bootstrap build asan fuzz-build fuzz test chaos run bench images lint format clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B $(BUILD) -DTM_WERROR=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# tm_common's unit tests under AddressSanitizer + UBSan (ASan cannot link -static).
asan: bootstrap
	@cmake -S . -B $(ASAN_BUILD) -DTM_WERROR=ON -DTM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS) --target common_test

# The libFuzzer targets of fuzz/ (clang 14, ASan + UBSan), in their own build dir.
fuzz-build: bootstrap
	@cmake -S . -B $(FUZZ_BUILD) -DTM_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)

# Each target's regression inputs and seed corpus, then FUZZ_SECONDS of fuzzing
# (scripts/run-fuzz.sh; `make fuzz FUZZ_SECONDS=3600`).
fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz.sh

# The pod tests (tests/pods/) run the workflow's pods under podman
# (TM_SKIP_CONTAINER_TESTS=1 skips them on a machine that cannot run containers).
test: build asan fuzz-build
	@[ "$$TM_SKIP_CONTAINER_TESTS" = 1 ] || scripts/bootstrap-containers.sh
	@BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) FUZZ_BUILD=$(FUZZ_BUILD) \
	  FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) scripts/run-tests.sh

# The chaos suite at length (scripts/run-chaos.sh; RELIABILITY.md reports it).
chaos: build
	@BUILD=$(BUILD) scripts/run-chaos.sh

run: build
	@BUILD=$(BUILD) scripts/run-example.sh

# Both container images (images/), multi-stage from the sources: docker where
# `docker info` succeeds, else podman/buildah (then saved under build/images/).
images:
	@scripts/bootstrap-containers.sh
	@scripts/build-images.sh

# Offline lint of workflows/ against Argo's JSON schema: ARGO_SCHEMA=PATH to the
# api/jsonschema/schema.json of your Argo release (docs/argo.md; scripts/argo-schema.sh).
lint: bootstrap
	@scripts/lint-workflows.py --schema "$$(scripts/argo-schema.sh)" workflows

bench: build
	@BUILD=$(BUILD) scripts/run-benchmarks.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
