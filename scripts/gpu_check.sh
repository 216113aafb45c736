#!/usr/bin/env bash
# GPU check, one short run on a CUDA machine: export the fused fp16 graph, run the engine with IO binding,
# print throughput and tag agreement with the CPU fp32 engine. Offline and self-contained (see scripts/gpu_check.py).
#   bash scripts/gpu_check.sh                  # MiniLM-L6 with a random head
#   bash scripts/gpu_check.sh --model DIR      # a trained model folder
# Needs onnxruntime-gpu: OFFLINE_NER_EXTRAS=gpu scripts/setup.sh (the default setup installs the CPU onnxruntime).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi: not found"
python -c "import onnxruntime as o; from offline_ner.infer.session import cuda_build, preload_cuda_libraries as p
print('onnxruntime', o.__version__, 'built for CUDA', cuda_build() or '-', o.get_available_providers())
print('CUDA libraries from pip wheels:', p() or 'loaded (or none installed: system libraries are used)')"
exec python scripts/gpu_check.py "$@"
