#!/usr/bin/env bash
# This library against PyTorch Lightning on the same GPU, in one run: builds bench/gpu/throughput
# (scripts/device/build.sh), then trains each model with it and with lightning_throughput.py
# (the same model, data shapes, optimizer, Trainer flags and timing), ROUNDS times each,
# alternating, and prints the best samples per second of each side and their ratio against the
# target, as a Markdown table with the GPU named:
#   cnn           Fashion-MNIST CNN, 32-true, batch 64, 2000 steps      target >= 3.0x
#   transformer   GPT-style LM (12 x 768, 256 tokens), bf16-mixed, batch 32, 60 steps  target >= 1.0x
# On the GPU machine (device tool, carry=[".devbuild"] after scripts/device/bundle here):
#   bash bench/gpu/run.sh
# Elsewhere, a dry run of both halves on the CPU with an existing build and a smaller model:
#   ACCELERATOR=cpu BUILD_DIR=build PYTHONPATH=<lightning>/src CNN_ARGS="--steps 100" \
#     LM_ARGS="--steps 6 --d_model 128 --heads 4 --layers 2 --context 64 --batch_size 8" bash bench/gpu/run.sh
# Environment: ACCELERATOR (gpu), ROUNDS (2), NUM_WORKERS (4), CNN_ARGS, LM_ARGS (extra flags for
# both halves), BUILD_DIR (skip the build and use that one), PYTHON, OUT (logs; a temporary folder).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$(mktemp -d)}
PY=${PYTHON:-$(command -v python3)}
ACCELERATOR=${ACCELERATOR:-gpu}
ROUNDS=${ROUNDS:-2}
NUM_WORKERS=${NUM_WORKERS:-4}

if [[ -n ${BUILD_DIR:-} ]]; then
  B=$BUILD_DIR
else
  B=.devbuild/build
  scripts/device/build.sh "$B" throughput || exit 1
fi
if [[ $ACCELERATOR == cpu ]]; then
  device="CPU ($(nproc) cores)"
else
  device=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
fi
"$PY" -c 'import torch; print("torch", torch.__version__)
try:
    import lightning as L
except ImportError:
    import pytorch_lightning as L
print("lightning", L.__version__)' | paste -sd' ' | tee "$OUT/versions.txt" || exit 1

samples_per_s() { sed -n 's/^throughput .* samples_per_s=\([0-9.e+]*\)$/\1/p' "$1"; }
best() { printf '%s\n' "$@" | sort -g | tail -n 1; }

rows=()
run_model() {  # MODEL PRECISION TARGET EXTRA_ARGS
  local model=$1 precision=$2 target=$3 extra=$4 cpp=() python=() round log args
  # shellcheck disable=SC2206
  args=(--accelerator "$ACCELERATOR" --precision "$precision" --num_workers "$NUM_WORKERS" $extra)
  for ((round = 1; round <= ROUNDS; round++)); do
    log=$OUT/$model-cpp-$round.log
    "$B/bench/throughput" "$model" "${args[@]}" >"$log" 2>&1 || { tail -n 20 "$log"; return 1; }
    cpp+=("$(samples_per_s "$log")")
    log=$OUT/$model-python-$round.log
    "$PY" bench/gpu/lightning_throughput.py "$model" "${args[@]}" >"$log" 2>&1 || { tail -n 20 "$log"; return 1; }
    python+=("$(samples_per_s "$log")")
  done
  local c p ratio verdict
  c=$(best "${cpp[@]}") p=$(best "${python[@]}")
  ratio=$(awk -v c="$c" -v p="$p" 'BEGIN { printf "%.2f", c / p }')
  verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN { print (r >= t ? "met" : "NOT met") }')
  rows+=("| $model | $precision | $(printf '%.0f' "$c") | $(printf '%.0f' "$p") | ${ratio}x | >= ${target}x, $verdict |")
}
run_model cnn 32-true 3.0 "${CNN_ARGS:-}" || exit 1
run_model transformer bf16-mixed 1.0 "${LM_ARGS:-}" || exit 1

echo
echo "Training throughput on $device, samples per second (best of $ROUNDS), $(cat "$OUT/versions.txt"):"
echo
echo "| model | precision | lightning (C++) | PyTorch Lightning | ratio | target |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "Logs: $OUT"
