# prefpipe - build, test, install.  See README.md and docs/building.md.
#
#   make            library + programs into build/ and bin/
#   make deps       install missing Debian packages (no-op when present)
#   make test       unit + integration tests; last line "N passed, N failed"
#   make check-asan the same tests built with AddressSanitizer + UBSan
#   make bench      engine benchmark (sgemm roofline, MFU, decode rates)
#   make base-model the embedded base model (cached in cache/base-model/)
#   make demo       the whole pipeline on the built-in task suite
#   make demo-rounds  3 rounds of iterative DPO + BCR on the suite (issue 22)
#   make reward-model  the scoring baseline (pp-rm) on oracle-labelled pairs
#   make experiment the paper's findings on the built-in suite -> docs/results.md
#   make experiment-quick  a small form of it (minutes; also in make test)
#   make fuzz       libFuzzer targets, FUZZ_SECONDS each (default 600)
#   make soak       crash tests, PP_KILL_POINTS SIGKILLs per stage (default 50)
#   make install PREFIX=/opt/prefpipe

PREFIX   ?= /usr/local
BUILD    ?= build
BIN      ?= bin
CC       := mpicc
ARCH     ?= -march=native
OPT      ?= -O3
SAN      ?=
PKGS     := hdf5-openmpi openblas jansson yaml-0.1 libpcre2-8 libutf8proc
# Computed when make reads this file.  Targets that install packages first
# (test, demo, base-model, ...) run `deps`, then re-invoke make, so the
# compile sees flags computed after the install.
PKG_CFLAGS ?= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   ?= $(shell pkg-config --libs hdf5-openmpi jansson yaml-0.1 libpcre2-8 libutf8proc 2>/dev/null)
CFLAGS   ?= $(OPT) $(ARCH) -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -Isrc -I$(BUILD) $(PKG_CFLAGS) $(SAN)
# OpenBLAS first, so cblas_* (and the BLAS inside ScaLAPACK) bind to it
# whatever update-alternatives selects (../shared/hpc/NOTES.md section 3).
LDLIBS   := $(PKG_LIBS) -lopenblas -lscalapack-openmpi -ldl -lm
LDFLAGS  += $(SAN)

LIB_SRC   := $(sort $(wildcard src/*/*.c))
LIB_OBJ   := $(patsubst src/%.c,$(BUILD)/src/%.o,$(LIB_SRC)) $(BUILD)/schemas_embedded.o
LIB       := $(BUILD)/libprefpipe.a
STAGE_SRC := $(sort $(wildcard stages/pp-*.c))
PROGRAMS  := $(patsubst stages/%.c,$(BIN)/%,$(STAGE_SRC))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC  := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN  := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRC))
SCHEMAS   := $(sort $(wildcard hdf5-schemas/*.json))

.PHONY: FORCE all deps test tests valgrind-programs check-asan bench install clean distclean help docs base-model demo demo-rounds reward-model experiment experiment-quick fuzz soak
.DELETE_ON_ERROR:

all: $(PROGRAMS)

help:
	@sed -n '1,14p' Makefile

$(BUILD)/src/%.o: src/%.c $(wildcard src/*/*.h) | $(BUILD)/src
	@mkdir -p $(dir $@)
	@$(if $(strip $(PKG_LIBS)),true,echo "make: pkg-config finds no hdf5-openmpi, jansson, yaml-0.1, libpcre2-8, libutf8proc: run 'make deps' first (or set PKG_CFLAGS and PKG_LIBS)" >&2; false)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/schemas_embedded.c: $(SCHEMAS) tools/embed-schemas.sh | $(BUILD)
	sh tools/embed-schemas.sh $(SCHEMAS) > $@

$(BUILD)/schemas_embedded.o: $(BUILD)/schemas_embedded.c
	$(CC) $(CFLAGS) -c $< -o $@

# The layering rule of src/ (folder READMEs, tools/check-layers.sh): an
# upward or circular include fails the build; so does a function in
# stages/*.c over 100 lines (tools/check-stage-length.sh: a main is parse,
# one library call, report).
$(BUILD)/layers.ok: tools/check-layers.sh tools/check-stage-length.sh $(wildcard src/*/*.c src/*/*.h src/*/README.md stages/*.c) | $(BUILD)
	@sh tools/check-layers.sh src > $@.tmp && sh tools/check-stage-length.sh stages >> $@.tmp && mv $@.tmp $@

# The git commit --version reports (tools/build-info.sh: rewritten only when
# it changes; "unknown" in a tarball without git).
$(BUILD)/pp_build_info.h: FORCE | $(BUILD)
	@sh tools/build-info.sh $@
FORCE:

$(BUILD)/src/stage/pp_stage.o: $(BUILD)/pp_build_info.h

$(LIB): $(LIB_OBJ) $(BUILD)/layers.ok
	rm -f $@ && ar rcs $@ $(LIB_OBJ)

$(BIN)/%: stages/%.c $(LIB) | $(BIN)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(BUILD)/tests
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB) | $(BUILD)/tests/tools
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDFLAGS) $(LDLIBS)

$(BUILD) $(BUILD)/src $(BUILD)/tests $(BUILD)/tests/tools $(BIN):
	mkdir -p $@

tests: $(PROGRAMS) $(UNIT_BIN) $(TOOL_BIN)

deps:
	@sh tools/install-deps.sh

# valgrind 3.19 cannot execute AVX-512 code, so the programs the valgrind
# test runs are built a second time for the baseline ISA (ARCH= empty).
VG_BUILD ?= build-vg
VG_BIN   ?= bin-vg
valgrind-programs:
	@$(MAKE) --no-print-directory BUILD=$(VG_BUILD) BIN=$(VG_BIN) ARCH= $(VG_BIN)/pp-prompts $(VG_BIN)/pp-convert

test: deps
	@$(MAKE) --no-print-directory tests valgrind-programs
	@BUILD=$(BUILD) BIN=$(BIN) VG_BIN=$(VG_BIN) sh tests/run-tests.sh

# Same tests, sanitized, in separate build directories.  Left out: the fuzz
# smoke test (libFuzzer builds its own ASan binaries), valgrind (does not mix
# with ASan), the Slurm scripts test (it exercises the job scripts), and
# the slow end-to-end ones, crash, experiment and rounds (the stages they
# run are covered by the per-stage tests here), the HF tokenizer comparison,
# the stories260K golden texts (the decoder's paths are in generate.sh) and
# the memory estimates against measured peaks (a sanitized process's peak
# is not the program's; make test runs them).
check-asan: deps
	@$(MAKE) --no-print-directory tests BUILD=build-asan BIN=bin-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	@BUILD=build-asan BIN=bin-asan PP_SANITIZED=1 PP_SKIP="fuzz_smoke valgrind slurm crash experiment rounds hftok stories260k stage_memory" sh tests/run-tests.sh

bench: deps
	@$(MAKE) --no-print-directory all $(TOOL_BIN)
	@sh tests/bench.sh

# Programs run as root here and in CI: Open MPI needs to be told it is fine.
RUN_ENV := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
           OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1

# Each of these needs the packages before it can compile: deps, then a
# fresh make (so pkg-config runs after the install), then the work.
base-model: deps
	@$(MAKE) --no-print-directory all
	@$(RUN_ENV) bash jobs/run-local.sh jobs/base-model.conf

demo: base-model
	@$(RUN_ENV) bash jobs/demo.sh

demo-rounds: base-model
	@$(RUN_ENV) bash jobs/demo-rounds.sh

reward-model: base-model
	@$(RUN_ENV) bash jobs/run-local.sh jobs/reward-model.conf

# EXP_DOCS: where the results go besides the work directory (results.md
# spliced into docs/results.md, plots into docs/images/)
experiment: base-model
	@$(RUN_ENV) EXP_DOCS=docs bash jobs/experiment.sh jobs/experiment.conf

experiment-quick: deps
	@$(MAKE) --no-print-directory all
	@$(RUN_ENV) EXP_SEEDS=1 EXP_BUDGETS=0.5 EXP_LOSSES=dpo EXP_EPOCHS=1 EXP_JUDGE_STEPS=30 EXP_JUDGE_BATCH=16 EXP_JUDGE_MICRO_BATCH=8 \
		EXP_PM_METHODS=iterative EXP_JUDGE_LOSSES=bcr bash jobs/experiment.sh jobs/experiment-quick.conf

FUZZ_SECONDS ?= 600
fuzz:
	@sh fuzz/run.sh $(FUZZ_SECONDS)

soak: deps
	@$(MAKE) --no-print-directory $(PROGRAMS) $(TOOL_BIN)
	@BUILD=$(BUILD) BIN=$(BIN) sh tests/soak.sh

# docs/formats.md is generated from the schemas (a test checks it is current)
docs: $(BUILD)/tests/tools/schema2md
	$(BUILD)/tests/tools/schema2md $(SCHEMAS) > docs/formats.md

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/prefpipe/hdf5-schemas \
	    $(DESTDIR)$(PREFIX)/share/prefpipe/slurm $(DESTDIR)$(PREFIX)/share/prefpipe/jobs \
	    $(DESTDIR)$(PREFIX)/share/doc/prefpipe
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(SCHEMAS) $(DESTDIR)$(PREFIX)/share/prefpipe/hdf5-schemas
	cp -R slurm/. $(DESTDIR)$(PREFIX)/share/prefpipe/slurm/
	cp -R jobs/. $(DESTDIR)$(PREFIX)/share/prefpipe/jobs/
	cp -R docs/. README.md LICENSE $(DESTDIR)$(PREFIX)/share/doc/prefpipe/

clean:
	rm -rf build build-asan build-vg bin bin-asan bin-vg

distclean: clean
	rm -rf cache
