# Punchcard: the two commands a developer needs.
#   make run    installs what is missing, builds, starts Redis (./var, AOF) and punchd on :8080
#   make test   installs what is missing, builds, runs the whole suite through ctest
# Sanitizers: make test SANITIZE=1 (AddressSanitizer + UBSan, in build-asan/).
# Static analysis: make cppcheck (CI runs it before the tests; it must stay clean).
# Fuzzing: make fuzz [FUZZ_SECONDS=N] [FUZZ_TARGETS="event time"] builds the libFuzzer targets
#   with clang (build-fuzz/) and runs each for N seconds (default 30), two at a time, from
#   tests/fuzz/corpus/.

SHELL := /bin/bash
BUILD ?= build
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD := build-asan
CMAKE_FLAGS += -DPUNCH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
endif
ifeq ($(CI),true)
CMAKE_FLAGS += -DPUNCH_WERROR=ON
endif
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
LISTEN ?= 127.0.0.1:8080
REDIS_PORT ?= 6379

.PHONY: deps build test cppcheck fuzz run stop clean format bench

deps:
	@sh tools/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Debian's cppcheck over core/: warnings, performance and portability, all of them errors.
# tools/cppcheck/jansson.cfg teaches it jansson's foreach loops; suppressions.txt lists the
# false positives, each with its reason (one-offs: `// cppcheck-suppress id` on the line).
# The build's generated headers are looked for too, when a build has made them.
CPPCHECK_FLAGS = --enable=warning,performance,portability --std=c11 --error-exitcode=1 -q \
	-Iinclude -Icore -I$(BUILD)/generated --inline-suppr \
	--library=posix,gnu,lua,openssl,libcurl --library=tools/cppcheck/jansson.cfg \
	--suppressions-list=tools/cppcheck/suppressions.txt

cppcheck: deps
	cppcheck $(CPPCHECK_FLAGS) -j $(JOBS) core

# libFuzzer wants clang; the fuzz build has its own folder and never -Werror (clang warns
# about things gcc does not: the fuzzers are not the place to find out).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_PARALLEL ?= 2
FUZZ_TARGETS ?=
fuzz:
	@sh tools/install-deps.sh --fuzz
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DPUNCH_FUZZ=ON -DPUNCH_TESTS=OFF \
		-DPUNCH_WERROR=OFF -DPUNCH_JEMALLOC=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_PARALLEL) $(FUZZ_TARGETS)

# Redis keeps its data under ./var with AOF on; punchd runs in the foreground (Ctrl-C stops it).
run: build
	@mkdir -p var
	@if ! redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1; then \
		redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --dir $(CURDIR)/var \
			--appendonly yes --appendfsync everysec --save '' \
			--daemonize yes --pidfile $(CURDIR)/var/redis.pid --logfile $(CURDIR)/var/redis.log; \
		for i in $$(seq 50); do redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 && break; sleep 0.1; done; \
	fi
	$(BUILD)/punchd --listen $(LISTEN) --redis 127.0.0.1:$(REDIS_PORT) --scripts scripts

stop:
	@-[ -f var/redis.pid ] && kill $$(cat var/redis.pid) && echo "redis stopped"

bench: build
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
