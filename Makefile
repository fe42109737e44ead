# Front door. `make demo` and `make test` install what is missing, build, run.
JOBS ?= $(shell nproc)
BUILD ?= build
TEST_BUILD ?= build-test

.PHONY: all deps build build-test demo test tsan fuzz valgrind clean

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

# The concurrency tests under ThreadSanitizer (OpenMP's own synchronisation
# suppressed: tests/tsan.supp says why). Not part of `make test`.
TSAN_BUILD ?= build-tsan
TSAN_TESTS = test_concurrency test_session_robust test_simdev
tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONYX_TSAN=ON -DONYX_CUDA=OFF >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TESTS)
	@cd $(TSAN_BUILD) && TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1" \
	  ctest --output-on-failure -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

# The fuzzing campaign: libFuzzer targets built with clang, FUZZ_SECONDS
# (default 60) each (scripts/fuzz.sh; tests/fuzz/README.md).
fuzz: deps
	@scripts/fuzz.sh

# memcheck over the conformance runner and the CLI tests (scripts/valgrind.sh;
# slow, so not part of `make test`).
valgrind: deps
	@scripts/valgrind.sh

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(TSAN_BUILD) build-fuzz build-valgrind
