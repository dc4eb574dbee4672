# Taskmaster. Quick start on a fresh Debian 12 machine (as root):
#   make run    bootstrap, build, and run the example workflow end to end
#   make test   bootstrap, build, and run every test suite (services started and stopped here)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
export CCACHE_DIR ?= $(HOME)/.cache/taskmaster-ccache
# Paths relative to the checkout, so a fresh clone elsewhere hits the same cache.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all bootstrap build asan test run bench format clean

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

test: build asan
	@BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) scripts/run-tests.sh

run: build
	@BUILD=$(BUILD) scripts/run-example.sh

bench: build
	@BUILD=$(BUILD) scripts/run-benchmarks.sh

format:
	@clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
