"""Join the checkpoint parts that gpu_train.sh packs into $OUT back into checkpoint folders.

    python results/hyperprior/unpack_gpu_run.py /work/.device/N runs/gpu

Each ``CODEC.partK.safetensors`` set becomes ``runs/gpu/CODEC/{model.safetensors,state.json}``:
the trained tensors as they were (fp32), the fixed-point h_s left at its initial value (it is
derived from the float one when the weights are exported). No optimizer state comes back, so
``--resume`` from such a folder is not possible; ``--init`` is.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from neurocodec import registry


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("parts", type=Path, help="the folder that $OUT came back to")
    ap.add_argument("out", type=Path, help="where the checkpoint folders go")
    args = ap.parse_args()
    for state_file in sorted(args.parts.glob("*.state.json")):
        codec = state_file.name.removesuffix(".state.json")
        tensors = {}
        for part in sorted(args.parts.glob(f"{codec}.part*.safetensors")):
            tensors.update(load_file(str(part)))
        model = registry.codec_class(codec).build_model()
        missing = model.load_state_dict(tensors, strict=False).missing_keys
        if unexpected := set(tensors) - set(model.state_dict()):
            raise SystemExit(f"{codec}: tensors the model does not have: {sorted(unexpected)[:3]}")
        if any("h_s_exact" not in k for k in missing):
            raise SystemExit(f"{codec}: parts are missing {[k for k in missing if 'h_s_exact' not in k][:3]}")
        folder = args.out / codec
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
        shutil.copy(state_file, folder / "state.json")
        print(f"{codec}: {len(tensors)} tensors -> {folder}")


if __name__ == "__main__":
    main()
