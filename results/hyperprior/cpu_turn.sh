#!/usr/bin/env bash
# One CPU "turn" for mbt2018-mean, as shipped on 2026-12-07 (results/hyperprior/README.md):
# the encoder side (g_a, h_a, the latent correction) under the rd loss, then g_s and its
# per-quality modulation alone under --loss psnr on the new latents, one run after the other
# (run side by side, their gains do not add), then the full Kodak evaluation.
#
#   bash results/hyperprior/cpu_turn.sh OUT [ENCODER_MINUTES [DECODER_MINUTES [SEED]]]
#
# Starts from the shipped weights; leaves OUT-enc/, OUT-gs/ and OUT-gs.json (compare it with
# results/hyperprior/kodak_mbt2018-mean.json, ship with results/learned_image/ship.py).
# The second turn took 45 + 40 minutes on two threads for -1.28 % BD-rate, the third -0.82 %.
set -euo pipefail
OUT=${1:?usage: cpu_turn.sh OUT [ENCODER_MINUTES [DECODER_MINUTES [SEED]]]}
ENC_MIN=${2:-45} DEC_MIN=${3:-40} SEED=${4:-19}
DATA="../shared/datasets/train/bsds500 ../shared/datasets/imagenet_1k"
COMMON="--data $DATA --crop 192 --batch 8 --threads 2 --steps 100000"
# shellcheck disable=SC2086  # word-splitting of DATA and COMMON is intended
neurocodec train mbt2018-mean $COMMON --init data/weights/mbt2018-mean.safetensors --lr 1e-4 \
    --seed "$SEED" --minutes "$ENC_MIN" --out "$OUT-enc" --train-only g_a hyper.h_a correction
# shellcheck disable=SC2086
neurocodec train mbt2018-mean $COMMON --init "$OUT-enc" --lr 3e-5 \
    --seed "$((SEED + 1))" --minutes "$DEC_MIN" --out "$OUT-gs" --train-only g_s --loss psnr
python results/learned_image/eval_kodak.py --codec mbt2018-mean --checkpoint "$OUT-gs" --out "$OUT-gs.json"
