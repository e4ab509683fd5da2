#!/usr/bin/env bash
# How the shipped hyperprior weights were trained on a lent GPU (one H100, calls of <= 10 minutes).
#
#   bash results/hyperprior/gpu_train.sh start MINUTES WAIT  # install, GPU test, launch both trainings
#   bash results/hyperprior/gpu_train.sh finish              # wait for them, pack checkpoints into $OUT
#   bash results/hyperprior/gpu_train.sh resume MINUTES      # same machine: go on from /tmp/runs, then pack
#
# CODECS="..." picks other codecs (e.g. shallow-2layer); INIT=1 starts each from its shipped
# weights (data/weights/CODEC.safetensors) instead of from scratch. At most 8 files come back
# from one call: two codecs (3 parts and a state each) fit.
#
# The shipped weights: `start 16 500`, `finish`, `resume 7.4` (about 24,300 steps each, 15.5 min).
# (That run called `neurocodec train` through a one-line wrapper: the CLI then imported PyAV,
# which that machine lacks, at start-up; it no longer does.)
# Run from the repository root with the training photos in .gpudata/ and the wheels that the GPU
# machine lacks (compressai, constriction, pytorch-msssim) in .whl/. Both codecs train at once on
# the one GPU, detached (setsid) so that they outlive the first call. Each call re-sends the
# working tree, which ends processes still reading from it, so the photos are copied to /tmp
# first (our first run lost its last minutes that way). Packing keeps each checkpoint's trained
# tensors (fp32, the derived fixed-point h_s left out) in parts under 16 MB, the limit on files
# coming back; results/hyperprior/unpack_gpu_run.py joins them into checkpoint folders.
set -euo pipefail
RUNS=/tmp/runs
export PYTHONPATH=/tmp/pkg:/tmp/site PYTHONUNBUFFERED=1
ARGS="--device cuda --batch 16 --crop 256 --lr 3e-4 --steps 1000000 --workers 6 --threads 2 --checkpoint-every 500"
CODECS=${CODECS:-"mbt2018-mean bmshj2018-hyperprior"}

pack() {
    python3 - "$RUNS" "$OUT" <<'EOF'
import json, sys
from pathlib import Path
from safetensors.torch import load_file, save_file
runs, out = Path(sys.argv[1]), Path(sys.argv[2])
for run in sorted(p for p in runs.iterdir() if p.is_dir()):
    tensors = {k: v for k, v in load_file(str(run / "model.safetensors")).items() if "h_s_exact" not in k}
    names, part, size, n = sorted(tensors), {}, 0, 0
    for k in names:
        part[k] = tensors[k]
        size += tensors[k].numel() * tensors[k].element_size()
        if size > 13e6 or k == names[-1]:
            save_file(part, str(out / f"{run.name}.part{n}.safetensors"))
            part, size, n = {}, 0, n + 1
    (out / f"{run.name}.state.json").write_text((run / "state.json").read_text())
    state = json.loads((run / "state.json").read_text())
    print(run.name, "step", state["step"], "seconds", state["seconds"], state["history"][-1])
EOF
}

case "$1" in
start)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/pkg .
    mkdir -p $RUNS && rm -rf /tmp/photos && cp -r .gpudata /tmp/photos
    REPO=$(pwd) && cd /tmp  # keep the checkout's neurocodec/ folder off the import path
    nvidia-smi --query-gpu=name,memory.total --format=csv
    python3 -m pytest -q -p no:cacheprovider "$REPO/tests/test_hyperprior.py" -k gpu -rA 2>&1 | tail -5
    for codec in $CODECS; do
        init=""
        [ "${INIT:-0}" = 1 ] && init="--init $REPO/data/weights/$codec.safetensors"  # read once, at start-up
        setsid nohup python3 -m neurocodec train $codec --data /tmp/photos/* --out $RUNS/$codec $ARGS $init \
            --minutes "$2" > $RUNS/$codec.log 2>&1 < /dev/null &
    done
    sleep "${3:-60}"
    tail -c 300 $RUNS/*.log
    ;;
finish)
    cd /tmp
    for _ in $(seq 100); do pgrep -f "neurocodec train" > /dev/null || break; sleep 5; done
    pkill -INT -f "neurocodec train" || true
    sleep 5
    pack
    ;;
resume)
    cd /tmp
    for codec in $CODECS; do
        python3 -m neurocodec train $codec --data /tmp/photos/* --out $RUNS/$codec $ARGS --resume \
            --minutes "$2" > $RUNS/$codec.2.log 2>&1 &
    done
    wait
    pack
    ;;
esac
