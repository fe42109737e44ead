# Front door. `make demo` and `make test` install what is missing, build, run.
JOBS ?= $(shell nproc)
BUILD ?= build
TEST_BUILD ?= build-test

.PHONY: all deps build build-test demo test clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The test build runs under AddressSanitizer + UndefinedBehaviorSanitizer.
build-test: deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONYX_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/onyx

test: build-test
	@cd $(TEST_BUILD) && ctest --output-on-failure -j$(JOBS)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
