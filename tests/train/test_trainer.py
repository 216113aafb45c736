"""The trainer end to end on a tiny random BERT: regimen order, realised shares, budgets, outputs, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from offline_ner.config import load_config
from offline_ner.contracts import TrainMetrics
from offline_ner.data import Record
from offline_ner.errors import ModelNotFoundError, TrainError
from offline_ner.train import TrainConfig, TrainResult, train
from tests.train.conftest import tiny_config

Data = dict[str, list[Record]]


def events(result_or_dir: TrainResult | Path, kind: str) -> list[dict[str, Any]]:
    path = result_or_dir.log_path if isinstance(result_or_dir, TrainResult) else result_or_dir / "train_log.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [e for e in lines if e["event"] == kind]


def run(cfg: TrainConfig, data: Data, out: Path) -> TrainResult:
    return train(cfg, gold=data["gold"], distilled=data["distilled"], dev=data["dev"], out_dir=out, progress=False)


@pytest.fixture(scope="module")
def simple_mix(tiny_bert_dir: Path, toy_data: Data, tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    return run(tiny_config(tiny_bert_dir, regimen="distilled_then_gold"), toy_data, tmp_path_factory.mktemp("mix"))


def test_simple_mix_trains_on_distilled_then_gold(simple_mix: TrainResult) -> None:
    shares = events(simple_mix, "share")
    assert [(e["phase"], e["epoch"]) for e in shares] == [("distilled", 0), ("distilled", 1), ("gold", 0), ("gold", 1)]
    assert [e["realised_share"] for e in shares] == [1.0, 1.0, 0.0, 0.0]
    assert [(e["gold"] + e["distilled"]) for e in shares] == [24, 24, 24, 24]  # each epoch one full pass


def test_training_writes_a_loadable_model_with_metrics_and_log(simple_mix: TrainResult, no_network: None) -> None:
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(simple_mix.model_dir, local_files_only=True)
    assert AutoTokenizer.from_pretrained(simple_mix.model_dir, local_files_only=True).is_fast
    assert model.config.id2label[0] == "O" and model.config.label2id["B-ORG"] > 0
    metrics = json.loads((simple_mix.model_dir.parent / "metrics.json").read_text(encoding="utf-8"))
    assert metrics == json.loads(json.dumps(simple_mix.metrics.to_json(), default=str))
    assert TrainMetrics.from_json(metrics) == simple_mix.metrics
    assert metrics["steps"] == 12 and metrics["train_tokens_per_s"] > 0 and metrics["wall_s"] > 0
    assert 0.0 <= metrics["best_dev_f1"] <= 1.0
    assert metrics["data"]["gold"]["dropped_words"] == 0
    assert [p["name"] for p in metrics["phases"]] == ["distilled", "gold"]
    assert any("eval_f1" in e for e in events(simple_mix, "log"))
    assert not (simple_mix.model_dir / "optimizer.pt").exists()  # the published folder holds no trainer state


def test_each_phase_splits_its_time_into_forward_backward_optimizer_data_eval_and_checkpoint(
    simple_mix: TrainResult,
) -> None:
    for phase in simple_mix.metrics.phases:
        split = phase.time_split
        assert set(split) == {"forward", "backward", "optimizer", "data", "evaluation", "checkpoint"}
        assert all(seconds > 0 for seconds in split.values()), split  # every part ran: 6 steps, 2 evals, 2 saves
        assert sum(split.values()) <= phase.train_s + 0.05


def test_blend_realised_share_per_epoch_tracks_the_schedule(
    tiny_bert_dir: Path, toy_data: Data, tmp_path: Path
) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="blend", epochs=3, **{"schedule.kind": "sigmoid", "schedule.k": 8})
    result = run(cfg, toy_data, tmp_path)
    epochs = result.metrics.phases[0].epochs
    assert len(epochs) == 3
    for epoch in epochs:  # counted from the batches the model computed a loss on
        assert abs(epoch.realised_share - epoch.expected_share) <= 1 / 48
    shares = [e.realised_share for e in epochs]
    assert shares[0] > 0.8 and shares[-1] < 0.2


def test_step_budget_ends_mid_epoch_with_a_final_evaluation(
    tiny_bert_dir: Path, toy_data: Data, tmp_path: Path
) -> None:
    result = run(tiny_config(tiny_bert_dir, regimen="union", max_steps=5), toy_data, tmp_path)  # 6 batches/epoch
    phase = result.metrics.phases[0]
    assert phase.steps == 5 and phase.budget_steps == 5 and not phase.stopped_early
    evaluated = [e["step"] for e in events(result, "log") if "eval_f1" in e]
    assert evaluated == [5]
    assert phase.epochs[0].gold + phase.epochs[0].distilled == 40


def test_patience_stops_a_phase_once_dev_f1_stalls(tiny_bert_dir: Path, toy_data: Data, tmp_path: Path) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="gold", max_steps=60, eval_every_steps=1, patience=2,
                      learning_rate=1.0e-9)  # a learning rate this small cannot move dev F1
    phase = run(cfg, toy_data, tmp_path).metrics.phases[0]
    assert phase.stopped_early and phase.steps == 3


def test_same_seed_gives_identical_weights(tiny_bert_dir: Path, toy_data: Data, tmp_path: Path) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="gold", max_steps=3)
    first, second = run(cfg, toy_data, tmp_path / "a"), run(cfg, toy_data, tmp_path / "b")
    a, b = (load_file(r.model_dir / "model.safetensors") for r in (first, second))
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def test_frozen_word_embeddings_stay_as_loaded_while_the_encoder_learns(
    tiny_bert_dir: Path, toy_data: Data, tmp_path: Path
) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="gold", max_steps=3, freeze_word_embeddings=True)
    before = load_file(tiny_bert_dir / "model.safetensors")
    after = load_file(run(cfg, toy_data, tmp_path).model_dir / "model.safetensors")
    word = "bert.embeddings.word_embeddings.weight"
    assert bool((before[word] == after[word]).all())
    layer = "bert.encoder.layer.0.attention.self.query.weight"
    assert not bool((before[layer] == after[layer]).all())


def test_dev_subset_picks_checkpoints_on_a_spread_of_dev_and_scores_the_final_model_on_all(
    tiny_bert_dir: Path, toy_data: Data, tmp_path: Path
) -> None:
    from offline_ner.train import evaluate_model

    result = run(tiny_config(tiny_bert_dir, regimen="gold", max_steps=3, dev_subset=3), toy_data, tmp_path)
    metrics = result.metrics
    assert metrics.dev_selection_records == 3 and metrics.data["dev"]["records"] == 3
    assert metrics.dev_f1_all == evaluate_model(result.model_dir, toy_data["dev"]).f1  # as dev scoring windows


def test_rerun_with_another_config_in_the_same_folder_is_refused(simple_mix: TrainResult, tiny_bert_dir: Path,
                                                                  toy_data: Data) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="distilled_then_gold", seed=7)
    with pytest.raises(TrainError, match="another config"):
        run(cfg, toy_data, simple_mix.model_dir.parent)


def test_finished_run_rerun_retrains_nothing(simple_mix: TrainResult, tiny_bert_dir: Path, toy_data: Data) -> None:
    again = run(tiny_config(tiny_bert_dir, regimen="distilled_then_gold"), toy_data, simple_mix.model_dir.parent)
    assert len(events(again, "phase_skipped")) == 2
    assert again.metrics.best_dev_f1 == simple_mix.metrics.best_dev_f1
    assert again.metrics.phases == simple_mix.metrics.phases  # read back from each phase's phase.json


def test_missing_base_model_fails_before_anything_is_written(toy_data: Data, tmp_path: Path, no_network: None) -> None:
    cfg = load_config(None, TrainConfig, overrides=["base_model=/no/such/model"])
    with pytest.raises(ModelNotFoundError):
        run(cfg, toy_data, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("regimen", "missing"), [("distilled_then_gold", "distilled"), ("gold", "gold"),
                                                  ("blend", "gold")])
def test_regimen_without_the_data_it_needs_is_a_train_error(regimen: str, missing: str, toy_data: Data,
                                                            tmp_path: Path) -> None:
    data = {**toy_data, missing: []}
    with pytest.raises(TrainError, match=missing):
        run(load_config(None, TrainConfig, overrides=[f"regimen={regimen}"]), data, tmp_path)


def test_resume_after_kill_continues_from_the_last_checkpoint(tiny_bert_dir: Path, toy_files: dict[str, Path],
                                                              tmp_path: Path) -> None:
    out = tmp_path / "run"
    settings = [f"base_model={tiny_bert_dir}", "regimen=gold", "batch_size=4", "max_steps=40", "eval_every_steps=10",
                "torch_threads=1", "max_length=24", *(f"{role}={path}" for role, path in toy_files.items())]
    command = [sys.executable, "-m", "offline_ner", "train", "--quiet", "--out", str(out)]
    command += [arg for setting in settings for arg in ("--set", setting)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    phase_dir = out / "checkpoints" / "phase-1-gold"
    deadline = time.monotonic() + 120
    while not list(phase_dir.glob("checkpoint-*/share_counts.json")):  # written last: the checkpoint is complete
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # no chance to clean up, as with a power cut
    process.wait()
    assert not (out / "metrics.json").exists()

    from offline_ner.data import read_records

    data = {role: read_records(path) for role, path in toy_files.items()}
    result = run(load_config(None, TrainConfig, overrides=settings), data, out)
    (resume,) = events(result, "resume")
    resumed_at = int(resume["checkpoint"].rsplit("-", 1)[1])
    assert 10 <= resumed_at < 40
    phase = result.metrics.phases[0]
    assert phase.steps == 40
    # realised-share counts survive the kill: every one of the 40 batches of 4 is counted exactly once
    assert sum(e.gold for e in phase.epochs) == 160


def test_resume_false_keeps_weights_only_and_trains_the_same_model(tiny_bert_dir: Path, toy_data: Data,
                                                                   tmp_path: Path) -> None:
    full = run(tiny_config(tiny_bert_dir, regimen="gold", max_steps=6, eval_every_steps=2), toy_data, tmp_path / "a")
    lean = run(tiny_config(tiny_bert_dir, regimen="gold", max_steps=6, eval_every_steps=2, resume=False), toy_data,
               tmp_path / "b")
    for result, has_state in ((full, True), (lean, False)):
        checkpoints = list((result.model_dir.parent / "checkpoints" / "phase-1-gold").glob("checkpoint-*"))
        assert checkpoints and all((c / "model.safetensors").is_file() for c in checkpoints)
        assert all((c / "optimizer.pt").is_file() == has_state for c in checkpoints)
    published = load_file(full.model_dir / "model.safetensors")
    same = load_file(lean.model_dir / "model.safetensors")
    assert all(bool((published[k] == same[k]).all()) for k in published)
    assert lean.metrics.best_dev_f1 == full.metrics.best_dev_f1


def test_a_weights_only_run_is_started_over_when_resume_is_asked(tiny_bert_dir: Path, toy_data: Data,
                                                                  tmp_path: Path) -> None:
    run(tiny_config(tiny_bert_dir, regimen="gold", max_steps=4, eval_every_steps=2, resume=False), toy_data, tmp_path)
    again = run(tiny_config(tiny_bert_dir, regimen="gold", max_steps=4, eval_every_steps=2), toy_data, tmp_path)
    assert not events(again, "resume") and not again.metrics.resumed  # no optimizer state to continue from
    assert again.metrics.phases[0].steps == 4
    assert json.loads((tmp_path / "checkpoints" / "run.json").read_text(encoding="utf-8"))["resumable"] is True


def test_phase_epochs_give_each_phase_its_own_budget(tiny_bert_dir: Path, toy_data: Data, tmp_path: Path) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="distilled_then_gold", phase_epochs=[1, 3])
    result = run(cfg, toy_data, tmp_path)
    shares = events(result, "share")
    assert [(e["phase"], e["epoch"]) for e in shares] == [("distilled", 0), ("gold", 0), ("gold", 1), ("gold", 2)]
    assert [p.steps for p in result.metrics.phases] == [3, 9]  # 24 records in batches of 8 per epoch


def test_keep_last_publishes_the_last_checkpoint_not_the_best(tiny_bert_dir: Path, toy_data: Data,
                                                              tmp_path: Path) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="gold", max_steps=6, eval_every_steps=2, keep="last")
    result = run(cfg, toy_data, tmp_path)
    phase = result.metrics.phases[0]
    assert phase.last_dir.endswith("checkpoint-6")
    published = load_file(result.model_dir / "model.safetensors")
    last = load_file(Path(phase.last_dir) / "model.safetensors")
    assert all(bool((published[k] == last[k]).all()) for k in last)
    assert result.metrics.final_model.startswith("last checkpoint")


def test_training_without_dev_runs_the_full_budget_and_keeps_the_last_model(
    tiny_bert_dir: Path, toy_data: Data, tmp_path: Path
) -> None:
    cfg = tiny_config(tiny_bert_dir, regimen="distilled_then_gold", patience=1, phase_epochs=[1, 2])
    result = train(cfg, gold=toy_data["gold"], distilled=toy_data["distilled"], dev=[], out_dir=tmp_path,
                   progress=False)
    metrics = result.metrics
    assert metrics.best_dev_f1 is None and metrics.dev_f1_all is None
    assert metrics.final_model.startswith("last: no dev set")
    assert [p.steps for p in metrics.phases] == [3, 6]  # patience needs dev: the full budget ran
    assert not any("eval_f1" in e for e in events(result, "log"))
    last = load_file(Path(metrics.phases[-1].last_dir) / "model.safetensors")
    published = load_file(result.model_dir / "model.safetensors")
    assert all(bool((published[k] == last[k]).all()) for k in last)


def test_packed_batches_train_on_every_record_and_count_only_real_tokens(
    tiny_bert_dir: Path, toy_data: Data, tmp_path: Path
) -> None:
    padded = run(tiny_config(tiny_bert_dir, regimen="gold", max_steps=6), toy_data, tmp_path / "padded")
    packed = run(tiny_config(tiny_bert_dir, regimen="gold", max_steps=6, pack_tokens=32), toy_data, tmp_path / "packed")
    one, two = padded.metrics.phases[0], packed.metrics.phases[0]
    assert [e.gold for e in two.epochs] == [24, 24]  # each epoch still one pass over the records
    assert two.train_tokens == one.train_tokens  # the same sentences, so the same non-pad tokens
    best = packed.metrics.best_dev_f1
    assert best is not None and 0.0 <= best <= 1.0
