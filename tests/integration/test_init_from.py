"""INIT_FROM=CKPT scripts/train-student.sh: the student takes the checkpoint's architecture (not its preset's) and
starts from its weights with fresh counters; a file that is not a checkpoint, or one of another vocabulary, is
refused in one line before fairseq starts."""
import os
import subprocess

import pytest

from tests.conftest import ROOT, command_path, one_core


def train_student(save, data, init_from, *extra):
    env = one_core(dict(os.environ, PATH=command_path(), INIT_FROM=str(init_from), KDSEQ_DEVICE="cpu"))
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "train-student.sh"), "cpu-demo", "baseline",
                           str(data), str(save), *extra], env=env, capture_output=True, text=True, timeout=600)


def load(path):
    from fairseq import checkpoint_utils

    from kdseq.checkpoints import allow_fairseq_checkpoints

    allow_fairseq_checkpoints()
    return checkpoint_utils.load_checkpoint_to_cpu(str(path))


def test_student_starts_from_the_checkpoint_in_its_architecture(toy_teacher, toy_prepared, tmp_path):
    # lr 1e-9 for 2 updates: the weights stay the teacher's to ~1e-8 (Adam's step is about lr)
    res = train_student(tmp_path / "s", toy_prepared / "bin", toy_teacher, "--max-update", "2", "--lr", "1e-9",
                        "--warmup-updates", "1", "--warmup-init-lr", "1e-9", "--max-tokens", "500")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    teacher, student = load(toy_teacher), load(tmp_path / "s" / "checkpoint_last.pt")
    tm, sm = teacher["cfg"].model, student["cfg"].model
    # the toy teacher's shape (1+1 layers x 64), not the cpu-demo preset's (2+2 x 128)
    for key in ("encoder_layers", "decoder_layers", "encoder_embed_dim", "decoder_ffn_embed_dim",
                "decoder_attention_heads", "share_all_embeddings"):
        assert getattr(sm, key) == getattr(tm, key), key
    assert sm.encoder_layers == 1 and sm.encoder_embed_dim == 64
    assert student["model"].keys() == teacher["model"].keys()
    for k, w in teacher["model"].items():
        assert (student["model"][k].float() - w.float()).abs().max() < 1e-6, k
    assert student["optimizer_history"][-1]["num_updates"] == 2  # counters afresh (the teacher trained 600)


@pytest.mark.parametrize("case", ["missing", "not-a-checkpoint", "ensemble", "other-vocabulary"])
def test_bad_init_from_is_refused_in_one_line(case, toy_teacher, toy_prepared, tmp_path):
    data = toy_prepared / "bin"
    if case == "missing":
        init, expect = tmp_path / "nope.pt", "does not exist"
    elif case == "not-a-checkpoint":
        init, expect = data / "dict.en.txt", "cannot load checkpoint"
    elif case == "ensemble":
        init, expect = f"{toy_teacher}:{toy_teacher}", "not an ensemble"
    else:  # the same data with a dictionary of one more entry
        data = tmp_path / "bin"
        data.mkdir()
        for name in os.listdir(toy_prepared / "bin"):
            os.symlink(toy_prepared / "bin" / name, data / name)
        for lang in ("en", "de"):
            os.remove(data / f"dict.{lang}.txt")
            text = (toy_prepared / "bin" / f"dict.{lang}.txt").read_text(encoding="utf-8")
            (data / f"dict.{lang}.txt").write_text(text + "zzzextra 1\n", encoding="utf-8")
        init, expect = toy_teacher, "differ in size"
    res = train_student(tmp_path / "s", data, init)
    assert res.returncode != 0
    assert "INIT_FROM" in res.stderr and expect in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "s").exists()  # refused before anything was written
