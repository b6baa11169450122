# qrobust — one binary, one folder per stage. Sources are picked up by wildcard,
# so adding a file to a stage folder needs no Makefile edit.
#
#   make            build ./qrobust (AVX2+FMA; `make PORTABLE=1` for a scalar build)
#   make test       build and run every tests/test_*.c (CMocka), one binary each
#   make test-asan  the same under AddressSanitizer + UBSan (build-asan/)
#   make bench      build and run every bench/bench_*.c
#   make fuzz       build the libFuzzer targets fuzz/fuzz_*.c with clang (build-fuzz/)
#   make CUDA=1     also build the CUDA backend (kernels/cuda/*.cu, *.c) with nvcc
#   make CUDA=1 test-cuda   GPU kernels and model vs the CPU (exit 77 = no GPU: skipped)
#   make CUDA=1 bench-cuda  GPU decode / GEMV / batched benchmarks (bench/cuda/)
#   make clean

CC      ?= gcc
ifeq ($(CC),cc)
CC      := gcc
endif
CSTD    := -std=gnu17
WARN    := -Wall -Wextra -Werror
ARCH    := -march=x86-64-v3
ifdef PORTABLE
ARCH    := -march=x86-64
endif
OPT     ?= -O2
CFLAGS  += $(CSTD) $(WARN) $(OPT) $(ARCH) -g -fopenmp -I. -D_GNU_SOURCE
LDLIBS  += -fopenmp -lpcre2-8 -ljansson -lz -lm
TESTLIBS := -lcmocka

BUILD   ?= build
STAGES  := util weights tokenizer quant runtime kernels attacks eval cli
LIBSRC  := $(filter-out cli/main.c,$(foreach d,$(STAGES),$(wildcard $(d)/*.c)))

ifdef CUDA
CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(CUDA_HOME)/bin/nvcc
NVFLAGS   ?= -O2 -std=c++17 -arch=sm_90 -lineinfo -I. -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror
CFLAGS    += -DQR_CUDA=1 -I$(CUDA_HOME)/include
LDLIBS    += -L$(CUDA_HOME)/lib64 -lcublasLt -lcudart -lstdc++
CUSRC     := $(wildcard kernels/cuda/*.cu)
CUOBJ     := $(CUSRC:%.cu=$(BUILD)/%.o) $(patsubst %.c,$(BUILD)/%.o,$(wildcard kernels/cuda/*.c))
endif

LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/%.o) $(CUOBJ)
TESTSRC := $(wildcard tests/test_*.c)
TESTBIN := $(TESTSRC:tests/%.c=$(BUILD)/tests/%)
BENCHSRC:= $(wildcard bench/bench_*.c)
BENCHBIN:= $(BENCHSRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test test-asan bench fuzz clean
all: qrobust

qrobust: $(BUILD)/qrobust
	cp $< $@

$(BUILD)/qrobust: $(BUILD)/cli/main.o $(LIBOBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# eval/sandbox.c embeds eval/zygote.py with .incbin.
$(BUILD)/eval/sandbox.o: eval/zygote.py

$(BUILD)/%.o: %.cu kernels/cuda/qcuda.h kernels/cuda/common.cuh
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c -o $@ $<

# CUDA test and bench programs (only with CUDA=1; they need a GPU to run).
$(BUILD)/tests/cuda/%: tests/cuda/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/bench/cuda/%: bench/cuda/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
CUDATEST  := $(patsubst tests/cuda/%.c,$(BUILD)/tests/cuda/%,$(wildcard tests/cuda/test_*.c))
CUDABENCH := $(patsubst bench/cuda/%.c,$(BUILD)/bench/cuda/%,$(wildcard bench/cuda/bench_*.c))
.PHONY: test-cuda bench-cuda cuda-bins
cuda-bins: $(BUILD)/qrobust $(CUDATEST) $(CUDABENCH)
# Exit 77 from a test = no CUDA device (skipped); reported, not a failure of the build.
test-cuda: $(CUDATEST)
	@test -n "$(CUDA)" || { echo "test-cuda needs make CUDA=1 test-cuda"; exit 2; }
	@fail=0; for t in $(CUDATEST); do echo "== $$t"; ./$$t; rc=$$?; \
	  if [ $$rc = 77 ]; then echo "SKIPPED (no CUDA device)"; elif [ $$rc != 0 ]; then fail=1; fi; done; \
	if [ $$fail = 0 ]; then echo "CUDA TESTS DONE"; else echo "SOME CUDA TESTS FAILED"; exit 1; fi
bench-cuda: $(CUDABENCH)
	@test -n "$(CUDA)" || { echo "bench-cuda needs make CUDA=1 bench-cuda"; exit 2; }
	@for b in $(CUDABENCH); do echo "== $$b"; ./$$b; rc=$$?; [ $$rc = 0 ] || [ $$rc = 77 ] || exit 1; done

# -MMD: a test binary is rebuilt when a header it includes (tests/*.h too) changes.
$(BUILD)/tests/%: tests/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -o $@ $(filter %.c %.o,$^) $(LDLIBS) $(TESTLIBS)

$(BUILD)/bench/%: bench/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Every test binary runs from the repository root (fixtures are tests/fixtures/...).
# All are run even when one fails; the exit status says whether any failed.
test: qrobust $(TESTBIN)
	@fail=0; for t in $(TESTBIN); do echo "== $$t"; QROBUST_BIN=$(CURDIR)/qrobust ./$$t || fail=1; done; \
	if [ $$fail = 0 ]; then echo "ALL TEST BINARIES PASSED"; else echo "SOME TESTS FAILED"; exit 1; fi

test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDLIBS="-fsanitize=address,undefined -fopenmp -lpcre2-8 -ljansson -lz -lm" test-asan-run
test-asan-run: $(BUILD)/qrobust $(TESTBIN)
	@fail=0; for t in $(TESTBIN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 QROBUST_BIN=$(CURDIR)/$(BUILD)/qrobust ./$$t || fail=1; done; \
	if [ $$fail = 0 ]; then echo "ALL TEST BINARIES PASSED (asan+ubsan)"; else echo "SOME TESTS FAILED (asan+ubsan)"; exit 1; fi

bench: qrobust $(BENCHBIN)
	@for b in $(BENCHBIN); do echo "== $$b"; ./$$b || exit 1; done

# libFuzzer targets: clang, ASan+UBSan, every library object rebuilt with clang.
FUZZSRC := $(wildcard fuzz/fuzz_*.c)
FUZZBIN := $(FUZZSRC:fuzz/%.c=build-fuzz/%)
fuzz:
	$(MAKE) CC=clang BUILD=build-fuzz WARN="-Wall -Wextra" \
	    OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" fuzz-bins
fuzz-bins: $(FUZZBIN)
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(LIBOBJ)
	$(CC) $(CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

clean:
	rm -rf build build-asan build-fuzz build-cuda qrobust

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
