#!/usr/bin/env bash
# Issue 23: the SOSampler checkpoint `framesampler demo` ships (framesampler/assets/demo/sosampler). The default
# construction of the shared UCF101 clips (official split, vocabulary Archery,BasketballDunk,Surfing), the built-in
# classifier, T=64: extract -> train SOSampler (paper recipe, N=8) -> evaluate it on the test videos beside uniform and
# pi_s (`evaluate --timed`, one run) -> copy the checkpoint into the package.
# Usage: results/demo/run.sh DATA_DIR   (DATA_DIR gets the long videos, the dataset and the cache; every step resumes)
# FRAMESAMPLER: the command to run (default .venv/bin/framesampler).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:?give a folder for the data, e.g. /work/data}
FS=${FRAMESAMPLER:-.venv/bin/framesampler}
OUT=results/demo
CLIPS=../shared/data/ucf101-clips
CK="$DATA/checkpoints/sosampler"
$FS construct $CLIPS/train.txt --test $CLIPS/test.txt --vocab Archery,BasketballDunk,Surfing --out "$DATA/ucf-pixels" --no-progress
DS="$DATA/ucf-pixels/dataset-T64.npz"
[ -f "$DS" ] || $FS extract "$DATA/ucf-pixels/train.txt" --test "$DATA/ucf-pixels/test.txt" --T 64 --out "$DS" \
    --cache-dir "$DATA/cache" --no-progress
[ -f "$CK/config.json" ] || $FS train --features "$DS" --sampler sosampler --T 64 --N 8 --recipe paper --out "$CK" \
    --cache-dir "$DATA/cache" --no-progress
$FS evaluate --features "$DS" --T 64 --N 8 --policies uniform,semi_optimal_max --checkpoint "$CK" --repeats 1 --timed \
    --cache-dir "$DATA/cache" --no-progress --json "$OUT/evaluate.json" | tee "$OUT/evaluate.txt"
rm -rf framesampler/assets/demo/sosampler
mkdir -p framesampler/assets/demo
cp -r "$CK" framesampler/assets/demo/sosampler
du -sh framesampler/assets/demo/sosampler
