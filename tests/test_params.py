import re
from pathlib import Path

import pytest
import yaml

import vae_core as vc
from vae_report import layout
from vae_report.errors import ParameterError
from vae_report.params import StudyParams, check_params, load_params, notebook_params, parameter_types
from vae_report.param_files import study_parameters

ROOT = Path(__file__).resolve().parents[1]
QUICK_A = {**study_parameters("quick", "original"), "arch": "vanilla"}


def _ns(**kw):
    """A notebook's namespace holding every parameter (the quick profile's run A) and ``kw``."""
    ns = {"__name__": "__main__", "In": [], "Out": {}, "_i1": "x", "get_ipython": print,
          "vc": vc, **QUICK_A}
    ns.update(kw)
    return ns


def test_the_schema_has_no_defaults_and_the_files_set_every_value():
    """One home per value: StudyParams holds names, types and checks only; params/*.yaml hold
    the values — every profile and run validates, a profile-wide notebook's too."""
    import dataclasses

    assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(StudyParams))
    for profile in ("full", "quick"):
        assert load_params(profile).run is None and load_params(profile).arch is None
        for run in ("original", "retrained", "original-exp", "retrained-exp"):
            p = load_params(profile, run, arch="vanilla")
            assert (p.profile, p.run) == (profile, run)
    assert check_params(_ns()) == load_params("quick", "original", arch="vanilla")


def test_a_notebook_names_its_cell_and_reads_the_rest_from_the_files():
    p = notebook_params({"profile": "full", "run": "retrained", "seed": 3, "arch": "deep-512",
                         "device": None, "In": [], "_": 1})
    assert (p.profile, p.run, p.seed, p.arch) == ("full", "retrained", 3, "deep-512")
    assert p.batch_size == 64 and p.init == "kaiming" and p.device == "auto"   # from the files
    assert notebook_params({"profile": "quick", "run": "original", "arch": "vanilla",
                            "epochs": 7, "device": "cpu"}).epochs == 7           # -p epochs 7
    with pytest.raises(ParameterError, match="profile 'fulll': there is no params/profiles/fulll"
                                             ".yaml; choose one of full, quick"):
        notebook_params({"profile": "fulll", "run": "original"})
    with pytest.raises(ParameterError, match="run 'B': there is no params/runs/B.yaml"):
        load_params("quick", "B")
    with pytest.raises(ParameterError, match="lr: must be a finite number > 0.*the value given for lr"):
        load_params("quick", "original", lr=float("nan"))


def test_a_parameter_without_a_value_names_where_it_belongs():
    values = dict(QUICK_A)
    del values["eval_seed"]
    with pytest.raises(ParameterError, match="missing parameter.*eval_seed.*params/base.yaml"):
        check_params(values)


def test_unknown_key_is_named_with_suggestion():
    with pytest.raises(ParameterError, match=r"'epoch' \(did you mean 'epochs'\?\)"):
        check_params(_ns(epoch=3))


def test_wrong_type_is_named():
    with pytest.raises(ParameterError, match="batch_size: expected int, got str"):
        check_params(_ns(batch_size="64"))
    with pytest.raises(ParameterError, match="epochs: expected int, got a boolean"):
        check_params(_ns(epochs=True))


@pytest.mark.parametrize("written, fix", [("3e-4", "3.0e-4"), ("1.0e3", "1.0e+3"), ("2E5", "2.0e+5")])
def test_a_float_yaml_read_as_a_string_gets_the_right_fix(written, fix):
    assert isinstance(yaml.safe_load(f"lr: {written}")["lr"], str)       # YAML 1.1 indeed
    assert isinstance(yaml.safe_load(f"lr: {fix}")["lr"], float)         # and the fix works
    with pytest.raises(ParameterError, match=f"lr: expected float.*write {re.escape(fix)},"):
        check_params(_ns(lr=written))


def test_objects_made_by_later_cells_are_not_parameters():
    import torch
    ns = _ns(model=torch.nn.Linear(2, 2), data=torch.zeros(3), helper=len)
    assert check_params(ns) == check_params(_ns())
    with pytest.raises(ParameterError, match="'hidden'"):
        check_params(_ns(hidden=[512, 256]))      # a list is injectable, so it is checked


def test_int_is_accepted_for_float():
    assert check_params(_ns(lr=1)).lr == 1.0


def test_every_field_type_is_checked_without_a_key_error(monkeypatch):
    """The checker resolves any annotation (bool, optional, list[int]) — a new field of another
    type must not crash it."""
    from vae_report import params as params_module

    hints = {**parameter_types(), "flag": bool, "note": str | None}
    monkeypatch.setattr(params_module, "parameter_types", lambda: hints)
    class Extended:
        def __init__(self, flag=False, note=None, **others):
            self.got = (flag, note)

        def validate(self):
            return self.got
    monkeypatch.setattr(params_module, "StudyParams", Extended)
    assert check_params(_ns(flag=True, note=None)) == (True, None)
    assert check_params(_ns(flag=False, note="x")) == (False, "x")
    with pytest.raises(ParameterError, match="flag: expected bool, got int 1"):
        check_params(_ns(flag=1, note=None))
    with pytest.raises(ParameterError, match=r"note: expected str \| None, got int 3"):
        check_params(_ns(flag=True, note=3))


def test_unknown_arch_and_bad_values():
    with pytest.raises(ParameterError, match="arch: unknown architecture 'deep-64'"):
        check_params(_ns(arch="deep-64"))
    with pytest.raises(ParameterError, match="val_split"):
        check_params(_ns(val_split=1.5))
    with pytest.raises(ParameterError, match="init"):
        check_params(_ns(init="xavier"))


@pytest.mark.parametrize("bad, message", [
    ({"lr": float("nan")}, "lr: must be a finite number > 0, got nan"),
    ({"lr": float("inf")}, "lr: must be a finite number > 0"),
    ({"lr": 0.0}, "lr: must be a finite number > 0"),
    ({"val_split": float("nan")}, "val_split: must be in"),
    ({"train_subset": -5}, r"train_subset: must be ≥ 0 \(the first N training images, 0 = all\)"),
    ({"eval_subset": -1}, "eval_subset: must be ≥ 0"),
    ({"threads": -2}, "threads: must be ≥ 0"),
    ({"device": "gpu"}, "device: unknown device 'gpu'; use 'auto'.*'cuda:<n>'"),
    ({"device": "cuda:x"}, "device: unknown device"),
    ({"backend": "jit"}, "backend: must be one of auto, fast, autograd"),
    ({"run": "a/b"}, "run: 'a/b' names a folder"),
])
def test_bad_values_are_refused_with_the_fix(bad, message):
    with pytest.raises(ParameterError, match=message):
        check_params(_ns(**bad))


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1"])
def test_good_devices_pass(device):
    assert check_params(_ns(device=device)).device == device


def test_seed_lists_are_checked():
    assert check_params(_ns(seeds=[0, 1, 2])).seeds == [0, 1, 2]
    for bad in ([], [0, 0], [0, "1"], [True]):
        with pytest.raises(ParameterError, match="seeds: must be a non-empty list"):
            check_params(_ns(seeds=bad))
    with pytest.raises(ParameterError, match="seeds: expected list, got int"):
        check_params(_ns(seeds=3))
    with pytest.raises(ParameterError, match="iw_curve_ks"):
        check_params(_ns(iw_curve_ks=[0, 10]))


def test_each_seed_has_its_own_folder_and_checkpoint():
    p = check_params(_ns(run="retrained", profile="full", seed=2, arch="deep-512"))
    assert p.out_dir.relative_to(layout.PROJECT_ROOT).as_posix() == "reports/full/retrained/seed-2/deep-512"
    assert (p.checkpoint_path.relative_to(layout.PROJECT_ROOT).as_posix()
            == "checkpoints/full/retrained/seed-2/deep-512.pt")
    assert p.classifier_path == layout.classifier_path("full")
    assert p.figures_dir.relative_to(layout.PROJECT_ROOT).as_posix() == "reports/full/figures"


def _yaml(path):
    return yaml.safe_load((ROOT / "params" / path).read_text())


def test_base_is_the_seed_table_1():
    from vae_report.report.seed_reference import SEED_TABLE1

    base = _yaml("base.yaml")
    assert {k: base[k] for k in SEED_TABLE1} == SEED_TABLE1
    original, retrained = load_params("full", "original"), load_params("full", "retrained")
    assert original.batch_size == 16 and original.init == "default"
    assert retrained.batch_size == 64 and retrained.init == "kaiming"
    assert original.train_subset == 0 and original.eval_subset == 0 and original.epochs == 100
