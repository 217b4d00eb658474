#!/usr/bin/env bash
# Runs on the GPU machine (device tool, carry=[".devbuild"], after scripts/device/bundle here):
# builds against its PyTorch 2.x's LibTorch (scripts/device/build.sh); runs every test with its Python (TensorBoard and
# Lightning interop, the _CUDA tests), one GPU epoch of the main job with the TensorBoard server
# reading its logs, and the overhead bench on its idle cores. Logs land in $OUT.
# Seen on an H100 (2026-11-26): build 70 s + 55 s, tests 56 s, each bench about 60 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
exec > >(tee "$OUT/run.log") 2>&1
PY=$(command -v python3)
nproc; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c 'import torch, lightning, tensorboard; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "lightning", lightning.__version__, "tensorboard", tensorboard.__version__)'
B=.devbuild/build
t0=$SECONDS
scripts/device/build.sh $B lightning_tests fashion_mnist trainer_overhead || exit 1
echo "== build $((SECONDS-t0)) s"
t0=$SECONDS
# Not here: the add_subdirectory consumer (it needs the system's packages) and the LibTorch 2.x
# header check (this machine builds against 2.x itself).
(cd $B && LIGHTNING_TEST_PYTHON=$PY timeout 240 ctest -j16 --timeout 200 --output-on-failure \
  -E '^(package|libtorch2)\.' > $OUT/tests.log 2>&1)
echo "== ctest rc=$? $((SECONDS-t0)) s"
grep -E "tests passed|\*\*\*Failed|\*\*\*Timeout|Not Run|\*\*\*Skipped|TensorBoardItself|MatchLightning|_CUDA" $OUT/tests.log
timeout 150 $B/examples/fashion_mnist --max_epochs 1 --accelerator gpu --num_workers 4 --batch_size 64 \
  --data_dir .devbuild/data --default_root_dir /tmp/fm 2>&1 | tr '\r' '\n' | grep -v "^Epoch 0: *[1-9]0%" | tail -8
timeout 60 $PY scripts/device/tb_server.py /tmp/fm/lightning_logs true
timeout 60 $PY scripts/device/tb_server.py /tmp/fm/lightning_logs false
timeout 120 $B/bench/trainer_overhead 2000 21 > $OUT/bench_16_cores.txt 2>&1; cat $OUT/bench_16_cores.txt
timeout 120 taskset -c 2,3 $B/bench/trainer_overhead 2000 21 > $OUT/bench_2_cores.txt 2>&1; cat $OUT/bench_2_cores.txt
