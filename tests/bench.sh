#!/bin/sh
# bench.sh - `make bench`: the engine and stage benchmarks, each printing
# ratios measured in the same run (MFU against an sgemm measured right
# there, batch-8 against batch-1 decode, the decoder against run.c, -np 2
# against -np 1).  Not a test:
# run it on an otherwise idle machine; docs/performance.md records results.
#   BENCH=train,decode,generate,rank make bench   (default: all)
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
sel=${BENCH:-train,decode,generate,rank}
echo "machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1), load $(cut -d' ' -f1-3 /proc/loadavg)"
case ",$sel," in *,train,*)
    echo "== training: MFU at d=256/L=4 and d=512/L=8, sequence 256 (1 BLAS thread)"
    OPENBLAS_NUM_THREADS=1 "$ROOT/build/tests/tools/bench_train" --steps 3 ;;
esac
case ",$sel," in *,decode,*)
    echo "== decode: tokens/s at batch 1 and batch 8 (1 BLAS thread)"
    OPENBLAS_NUM_THREADS=1 "$ROOT/build/tests/tools/bench_decode" --cpu-time ;;
esac
case ",$sel," in *,generate,*)
    echo "== pp-generate: --max-batch 1, 8, 64, 256 vs llama2.c run.c and the sgemm rate, -np 2 vs -np 1 (1 BLAS thread)"
    sh "$ROOT/tests/tools/bench_decoder.sh" ;;
esac
case ",$sel," in *,rank,*)
    echo "== pp-rank: cmd judge sleeping 50 ms per call, -np 2 vs -np 1"
    OPENBLAS_NUM_THREADS=1 sh "$ROOT/tests/tools/bench_rank.sh" ;;
esac
