# The two commands (see README.md):
#   make run    install what is missing, build, and start a node
#   make test   build and run the whole test suite
# More: make test-asan (the suite under ASan+UBSan), make fuzz, make bench,
# make bench-routing (as root: Glow vs Yggdrasil on a namespace testbed).

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 60
MESON_TEST = meson test --print-errorlogs --num-processes 2

.PHONY: all deps build run test test-asan fuzz bench bench-routing clean

all: build

deps:
	@bash scripts/setup-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./$(BUILD)/glowd $(GLOWD_ARGS)

test: build
	$(MESON_TEST) -C $(BUILD); rc=$$?; python3 scripts/test-summary.py $(BUILD) || true; exit $$rc

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 GLOW_TEST_SLOW=3 \
	$(MESON_TEST) -C $(ASAN_BUILD) --timeout-multiplier 3; rc=$$?; python3 scripts/test-summary.py $(ASAN_BUILD) || true; exit $$rc

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/run-fuzzers.sh

bench: build
	./$(BUILD)/bench/glow-bench $(BENCH_ARGS)

bench-routing: build
	BUILD=$(BUILD) bash bench/routing-bench.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
