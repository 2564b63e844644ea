# mntns: the two commands of the quick start are `make demo` and `make test`.
# Both install what is missing (scripts/deps.sh), configure and build first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
# `make fuzz`: seconds per target; `make test`: inputs per target.
FUZZ_SECONDS ?= 120
FUZZ_RUNS    ?= 20000
BUILD_TYPE ?= RelWithDebInfo
# CI builds treat warnings as errors.
WERROR     := $(if $(filter true 1,$(CI)),ON,OFF)
CMAKE_ARGS ?=

.PHONY: all deps build build-asan build-fuzz build-tsan demo test test-host test-vm fuzz bench install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DMNTNS_WERROR=$(WERROR) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMNTNS_SANITIZE=ON \
	  -DMNTNS_BUILD_BENCH=OFF -DMNTNS_FAULT_INJECTION=OFF -DMNTNS_WERROR=$(WERROR) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD)

# The libFuzzer targets (tests/fuzz): a project of their own, built with clang.
build-fuzz: build
	@cmake -S tests/fuzz -B $(FUZZ_BUILD) -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 \
	  -DMNTNS_STATIC_LIBRARY=$(abspath $(BUILD))/libmntns.a $(CMAKE_ARGS) >/dev/null
	@cmake --build $(FUZZ_BUILD)

# ThreadSanitizer build of the library and its stress test (tests/tsan).
build-tsan: deps
	@cmake -S tests/tsan -B $(TSAN_BUILD) -G Ninja $(CMAKE_ARGS) >/dev/null
	@cmake --build $(TSAN_BUILD)

# Every suite: host (plain and ASan+UBSan builds), then the same binaries in a 7.x VM.
test: build build-asan build-fuzz build-tsan
	@scripts/test.sh --build $(BUILD) --asan-build $(ASAN_BUILD) --fuzz-build $(FUZZ_BUILD) --fuzz-runs $(FUZZ_RUNS) \
	  --tsan-build $(TSAN_BUILD) host asan fuzz tsan vm

fuzz: build-fuzz
	@scripts/fuzz.sh $(FUZZ_BUILD) --seconds $(FUZZ_SECONDS)

test-host: build build-asan
	@scripts/test.sh --build $(BUILD) --asan-build $(ASAN_BUILD) host asan

test-vm: build
	@scripts/test.sh --build $(BUILD) vm

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
