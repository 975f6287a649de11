#!/usr/bin/env bash
# Issue 21's accuracy-and-time check on the pixel benchmark: the default construction of the shared UCF101 clips,
# the built-in classifier, T=64: SOSampler reading the compressed-domain input (no candidate decoded), the coded
# sizes alone (input=sizes: the packet index, nothing decoded) and the decoded candidates, beside uniform N=8 / N=32 and pi_s, `evaluate --timed`, one run.
# The samplers train with the short recipe (as when this benchmark was first run); decode-aware: --decode-aware 0.1.
# Usage: results/pays_for_itself/run.sh DATA_DIR   (the folder results/your_classifier/run.sh or results/demo/run.sh
# constructs into)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:?give the data folder, e.g. /work/data}
FS=.venv/bin/framesampler
OUT=results/pays_for_itself
DS="$DATA/ucf-pixels/dataset-T64.npz"
[ -f "$DS" ] || $FS extract "$DATA/ucf-pixels/train.txt" --test "$DATA/ucf-pixels/test.txt" --T 64 --out "$DS" \
    --cache-dir "$DATA/cache" --no-progress
for input in features compressed sizes; do
  [ -f "$OUT/checkpoints/sos-$input/config.json" ] || $FS train --features "$DS" --sampler sosampler --T 64 --N 8 \
      --option input=$input --recipe short --out "$OUT/checkpoints/sos-$input" --cache-dir "$DATA/cache" --no-progress
done
COMMON=(--features "$DS" --T 64 --repeats 1 --cache-dir "$DATA/cache" --no-progress --timed)
$FS evaluate "${COMMON[@]}" --N 8 --policies uniform,semi_optimal_max --checkpoint "$OUT/checkpoints/sos-features" \
    --checkpoint "$OUT/checkpoints/sos-compressed" --checkpoint "$OUT/checkpoints/sos-sizes" --json "$OUT/n8.json"
$FS evaluate "${COMMON[@]}" --N 8 --policies uniform --checkpoint "$OUT/checkpoints/sos-compressed" \
    --checkpoint "$OUT/checkpoints/sos-sizes" --decode-aware 0.1 \
    --json "$OUT/n8_decode_aware.json"
$FS evaluate "${COMMON[@]}" --N 32 --policies uniform --json "$OUT/n32.json"
