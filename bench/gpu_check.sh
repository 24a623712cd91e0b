#!/usr/bin/env bash
# The GPU checks, as one short script for a CUDA machine (run it whenever one is at hand):
#   bash bench/gpu_check.sh [out_dir]        # default out_dir: bench/results
# 1. install with the normal (CUDA) torch, Ray and RAPIDS cuML;
# 2. the CUDA-only tests (they skip without a GPU);
# 3. encode 3,000 reviews with minilm on cuda (local engine, then the Ray engine with one GPU actor);
# 4. cuML UMAP / HDBSCAN / KMeans against the CPU ones on the same embeddings;
# 5. a 1-GPU torchrun SimCSE training (NCCL);
# 6. the default comparison on the GPU.
# Every step's wall time goes to <out_dir>/gpu_check.json; a failing step is recorded and the rest go on.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench/results}
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
: > "$LOG"
nvidia-smi -L | tee -a "$LOG" || { echo "no CUDA GPU here" | tee -a "$LOG"; exit 1; }

PY=.venv/bin/python
declare -A SECONDS_OF STATUS_OF
step() {  # step NAME COMMAND...
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  echo "== $name: $*" | tee -a "$LOG"
  if "$@" >>"$LOG" 2>&1; then STATUS_OF[$name]=ok; else STATUS_OF[$name]=failed; fi
  SECONDS_OF[$name]=$(echo "$(date +%s.%N) - $t0" | bc)
  echo "   ${STATUS_OF[$name]} in ${SECONDS_OF[$name]} s" | tee -a "$LOG"
}

step install bash -c "test -x $PY || python3 -m venv .venv; $PY -m pip install --quiet --upgrade pip && \
  $PY -m pip install --quiet torch && $PY -m pip install --quiet -e '.[models,onnx,plot,notebooks,dev,ray,gpu]'"
step cuda_tests $PY -m pytest -q -m "not slow" tests/core/test_engines.py tests/clustering/test_clusterers.py
step encode_cuda $PY -m simcse_lab.cli encode default --model minilm --out "$OUT/gpu_minilm.npy" \
  --set encode.device=cuda --set encode.backend=torch --set encode.batch_size=256 -q
step encode_ray_gpu $PY -m simcse_lab.cli encode default --model minilm --out "$OUT/gpu_minilm_ray.npy" \
  --set encode.device=cuda --set encode.backend=torch --set encode.batch_size=256 --set encode.engine=ray \
  --set ray.num_gpus_per_actor=1 --set encode.cache=false -q
step engines_agree $PY -c "import numpy as np; a=np.load('$OUT/gpu_minilm.npy'); b=np.load('$OUT/gpu_minilm_ray.npy'); \
d=float(np.abs(a-b).max()); print('max abs diff', d); assert d < 1e-4"
step cuml_vs_cpu $PY -m simcse_lab.cli compare default --set models.encoders=[minilm] --set models.simcse_from=[] \
  --set encode.device=cuda --set cluster.backend=cuml --set metrics.sts_splits=[] --set runs_dir="$OUT/gpu_runs" -q
step cpu_clusters $PY -m simcse_lab.cli compare default --set models.encoders=[minilm] --set models.simcse_from=[] \
  --set encode.device=cuda --set cluster.backend=cpu --set metrics.sts_splits=[] --set runs_dir="$OUT/gpu_runs" -q
step torchrun_1gpu $PY -m torch.distributed.run --standalone --nproc_per_node=1 -m simcse_lab.cli train default \
  --model minilm --set encode.device=cuda --set corpus.n_samples=1000 -q
step default_comparison $PY -m simcse_lab.cli compare default --set encode.device=cuda --set runs_dir="$OUT/gpu_runs" -q

{
  echo "{"
  echo "  \"gpu\": \"$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)\","
  first=1
  for name in install cuda_tests encode_cuda encode_ray_gpu engines_agree cuml_vs_cpu cpu_clusters torchrun_1gpu default_comparison; do
    [ $first -eq 1 ] || echo ","
    first=0
    printf '  "%s": {"status": "%s", "seconds": %s}' "$name" "${STATUS_OF[$name]:-skipped}" "${SECONDS_OF[$name]:-null}"
  done
  echo
  echo "}"
} > "$OUT/gpu_check.json"
cat "$OUT/gpu_check.json"
