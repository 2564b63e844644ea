# mntns: the two commands of the quick start are `make demo` and `make test`.
# Both install what is missing (scripts/deps.sh), configure and build first.

BUILD      ?= build
ASAN_BUILD ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
# CI builds treat warnings as errors.
WERROR     := $(if $(filter true 1,$(CI)),ON,OFF)
CMAKE_ARGS ?=

.PHONY: all deps build build-asan demo test test-host test-vm bench install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DMNTNS_WERROR=$(WERROR) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMNTNS_SANITIZE=ON \
	  -DMNTNS_BUILD_BENCH=OFF -DMNTNS_WERROR=$(WERROR) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(ASAN_BUILD)

# Every suite: host (plain and ASan+UBSan builds), then the same binaries in a 7.x VM.
test: build build-asan
	@scripts/test.sh --build $(BUILD) --asan-build $(ASAN_BUILD) host asan vm

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
	rm -rf $(BUILD) $(ASAN_BUILD)
