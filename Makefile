# spank-oci: `make` builds build/spank_oci.so and build/spank-oci.
# `make test` runs the whole suite, `make demo` the container examples on a throwaway Slurm.

CC ?= cc
BUILD := build
PKGS := jansson libarchive libcrypto libcap libseccomp
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fPIC -fvisibility=hidden -I. \
          $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljansson -larchive -lcrypto -lcap -lseccomp)

# common/ <- conf/ <- launcher/ <- spank/ (the plugin) and cli/ (the command)
CORE_SRC := $(wildcard common/*.c conf/*.c launcher/*.c launcher/*/*.c)
PLUGIN_SRC := $(wildcard spank/*.c)
CLI_SRC := $(wildcard cli/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
PLUGIN_OBJ := $(PLUGIN_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
# Shared mode's holder: a static program, built into the plugin and the CLI as data.
HOLDER := $(BUILD)/spank-oci-holder
HOLDER_OBJ := $(BUILD)/obj/launcher/shared/holder_image.o

# Where Slurm keeps its plugins (make install puts spank_oci.so next to them).
SLURM_PLUGIN_DIR ?= $(patsubst %/,%,$(dir $(firstword $(wildcard \
	/usr/lib/*/slurm-wlm/select_cons_tres.so /usr/lib64/slurm/select_cons_tres.so \
	/usr/lib/slurm/select_cons_tres.so /usr/local/lib/slurm/select_cons_tres.so))))
PREFIX ?= /usr/local
DESTDIR ?=

UNIT_TESTS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(wildcard test/unit/test_*.c))
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
C_FILES := $(wildcard common/*.[ch] conf/*.[ch] launcher/*.[ch] launcher/*/*.[ch] spank/*.[ch] \
	cli/*.[ch] holder/*.[ch] test/unit/*.[ch] test/fuzz/*.[ch] test/mpi/*.[ch])

# libFuzzer targets (test/fuzz/fuzz_NAME.c, seeds in test/fuzz/corpus/NAME), built with
# clang and ASan/UBSan; the core is built once more for them, with coverage.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_CFLAGS = $(filter-out -fvisibility=hidden -O2,$(CFLAGS)) -O1 $(FUZZ_SAN)
FUZZ_OBJ := $(CORE_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_BIN = $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
.SECONDARY: $(FUZZ_OBJ)

.PHONY: all deps unit fuzz fuzz-corpus format-check integration test demo bench bench-overlay bench-mpi mpi-image test-mpi \
	install clean

all: $(BUILD)/spank_oci.so $(BUILD)/spank-oci

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(HOLDER): $(wildcard holder/*.c)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Os -static -s -Wall -Wextra -Werror -o $@ $^

$(HOLDER_OBJ): launcher/shared/holder_image.S $(HOLDER)
	@mkdir -p $(dir $@)
	$(CC) -DHOLDER_BINARY='"$(HOLDER)"' -c $< -o $@

$(BUILD)/spank_oci.so: $(PLUGIN_OBJ) $(CORE_OBJ) $(HOLDER_OBJ)
	$(CC) $(CFLAGS) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/spank-oci: $(CLI_OBJ) $(CORE_OBJ) $(HOLDER_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests: cmocka, with the code under test built again with ASan and UBSan.
$(BUILD)/test/%: test/unit/%.c $(CORE_SRC) $(HOLDER_OBJ) $(wildcard test/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fvisibility=hidden -O2,$(CFLAGS)) -O1 $(SAN) -o $@ $< $(CORE_SRC) \
		$(HOLDER_OBJ) $(LDLIBS) -lcmocka

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(BUILD)/fuzz/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_OBJ) $(HOLDER_OBJ) $(wildcard test/fuzz/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(HOLDER_OBJ) $(LDLIBS)

deps:
	@scripts/install-deps

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t; done

# Each target for FUZZ_SECONDS (FUZZ_TARGETS="conf unpack" for some); new inputs go to
# build/fuzz/new/NAME, crashes to build/fuzz/crash/NAME-*, the log to build/fuzz/NAME.log.
fuzz: $(FUZZ_BIN)
	@failed=; for n in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/new/$$n $(BUILD)/fuzz/crash; \
		rc=0; $(BUILD)/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/crash/$$n- $(BUILD)/fuzz/new/$$n \
			test/fuzz/corpus/$$n >$(BUILD)/fuzz/$$n.log 2>&1 || rc=$$?; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(BUILD)/fuzz/$$n.log); \
		secs=$$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' $(BUILD)/fuzz/$$n.log); \
		cov=$$(grep -o 'cov: [0-9]*' $(BUILD)/fuzz/$$n.log | tail -1); \
		echo "fuzz $$n: $${secs:-?} s, $${execs:-?} execs, $$cov, $$(ls $(BUILD)/fuzz/new/$$n | wc -l) new inputs, $$( \
			[ $$rc -eq 0 ] && echo 'no crash' || echo "CRASH (exit $$rc, see $(BUILD)/fuzz/$$n.log)")"; \
		[ $$rc -eq 0 ] || failed="$$failed $$n"; done; \
		[ -z "$$failed" ] || { echo "fuzz: crashes in$$failed" >&2; exit 1; }

# Each checked-in corpus input run once under ASan/UBSan (part of `make test`).
fuzz-corpus: $(FUZZ_BIN)
	@set -e; for n in $(FUZZ_TARGETS); do \
		$(BUILD)/fuzz/fuzz_$$n test/fuzz/corpus/$$n/* >$(BUILD)/fuzz/$$n-corpus.log 2>&1 || { \
			cat $(BUILD)/fuzz/$$n-corpus.log >&2; echo "fuzz-corpus $$n: FAILED" >&2; exit 1; }; \
		echo "fuzz-corpus $$n: $$(ls test/fuzz/corpus/$$n | wc -l) inputs, no crash"; done

format-check:
	@clang-format --dry-run --Werror $(C_FILES) && echo "clang-format: clean"

integration: all
	@scripts/integration

# Only the MPI tests across 3 nodes (part of `make test` too).
test-mpi: all
	@scripts/integration test/integration/multinode-mpi.bats

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-corpus
	@$(MAKE) --no-print-directory integration

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

# Benchmarks into BENCHMARKS.md: `make bench` (srun latency), BENCH=images or BENCH=all.
bench:
	@scripts/bench $(BENCH)

# What the container's root on an overlay costs: RootOverlay=auto against off, into
# BENCHMARKS.md (`scripts/bench overlay`; 40 rounds unless BENCH_REPS says otherwise).
bench-overlay:
	@scripts/bench overlay

# MPI across 3 nodes: srun -N 3 -n 12 --mpi=pmix bare against spank-oci, into
# BENCHMARKS.md (`scripts/bench mpi`; BENCH_MPI_REPS rounds, default 10).
bench-mpi:
	@scripts/bench mpi

# The MPI test image (Debian bookworm, Open MPI, test/mpi/mpi_check), built once and cached
# under /var/cache/spank-oci-test/mpi-image/<key>/ (MPI_IMAGE_CACHE); prints that directory.
mpi-image: deps
	@scripts/make-mpi-image

install: all
	@test -n "$(SLURM_PLUGIN_DIR)" || { echo "SLURM_PLUGIN_DIR not found; set it" >&2; exit 1; }
	install -D -m 0755 $(BUILD)/spank_oci.so $(DESTDIR)$(SLURM_PLUGIN_DIR)/spank_oci.so
	install -D -m 0755 $(BUILD)/spank-oci $(DESTDIR)$(PREFIX)/bin/spank-oci
	install -D -m 0644 oci.conf.example $(DESTDIR)$(PREFIX)/share/doc/spank-oci/spank-oci.conf.example

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)
