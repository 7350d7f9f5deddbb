from pathlib import Path

import pytest
import yaml

import vae_core as vc

ROOT = Path(__file__).resolve().parents[1]


def _ns(**kw):
    ns = {"__name__": "__main__", "In": [], "Out": {}, "_i1": "x", "get_ipython": print,
          "vc": vc, **vc.StudyParams().as_dict()}
    ns.update(kw)
    return ns


def test_defaults_validate():
    p = vc.check_params(_ns())
    assert p == vc.StudyParams()


def test_unknown_key_is_named_with_suggestion():
    with pytest.raises(vc.ParameterError, match=r"'epoch' \(did you mean 'epochs'\?\)"):
        vc.check_params(_ns(epoch=3))


def test_wrong_type_is_named():
    with pytest.raises(vc.ParameterError, match="batch_size: expected int, got str"):
        vc.check_params(_ns(batch_size="64"))
    with pytest.raises(vc.ParameterError, match="epochs: expected int, got a boolean"):
        vc.check_params(_ns(epochs=True))
    with pytest.raises(vc.ParameterError, match="lr: expected float.*3.0e-4"):
        vc.check_params(_ns(lr="3e-4"))


def test_objects_made_by_later_cells_are_not_parameters():
    import torch
    ns = _ns(model=torch.nn.Linear(2, 2), data=torch.zeros(3), helper=len)
    assert vc.check_params(ns) == vc.StudyParams()
    with pytest.raises(vc.ParameterError, match="'hidden'"):
        vc.check_params(_ns(hidden=[512, 256]))      # a list is injectable, so it is checked


def test_int_is_accepted_for_float():
    assert vc.check_params(_ns(lr=1)).lr == 1.0


def test_unknown_arch_and_bad_values():
    with pytest.raises(vc.ParameterError, match="arch: unknown architecture 'deep-64'"):
        vc.check_params(_ns(arch="deep-64"))
    with pytest.raises(vc.ParameterError, match="val_split"):
        vc.check_params(_ns(val_split=1.5))
    with pytest.raises(vc.ParameterError, match="init"):
        vc.check_params(_ns(init="xavier"))


def test_seed_lists_are_checked():
    assert vc.check_params(_ns(seeds=[0, 1, 2])).seeds == [0, 1, 2]
    for bad in ([], [0, 0], [0, "1"], [True]):
        with pytest.raises(vc.ParameterError, match="seeds: must be a non-empty list"):
            vc.check_params(_ns(seeds=bad))
    with pytest.raises(vc.ParameterError, match="seeds: expected list, got int"):
        vc.check_params(_ns(seeds=3))
    with pytest.raises(vc.ParameterError, match="iw_curve_ks"):
        vc.check_params(_ns(iw_curve_ks=[0, 10]))


def test_each_seed_has_its_own_folder_and_checkpoint():
    p = vc.check_params(_ns(run="retrained", profile="full", seed=2, arch="deep-512"))
    assert p.out_dir.relative_to(vc.PROJECT_ROOT).as_posix() == "reports/full/retrained/seed-2/deep-512"
    assert (p.checkpoint_path.relative_to(vc.PROJECT_ROOT).as_posix()
            == "checkpoints/full/retrained/seed-2/deep-512.pt")


def _yaml(path):
    return yaml.safe_load((ROOT / "params" / path).read_text())


@pytest.mark.parametrize("run", ["original", "retrained"])
@pytest.mark.parametrize("profile", ["full", "quick"])
def test_parameter_files_merge_into_valid_params(run, profile):
    merged = {**_yaml("base.yaml"), **_yaml(f"runs/{run}.yaml"), **_yaml(f"profiles/{profile}.yaml")}
    p = vc.check_params(_ns(**merged))
    assert p.run == run and p.profile == profile


def test_base_is_the_seed_table_1():
    base = _yaml("base.yaml")
    assert base["latent_dim"] == 64 and base["lr"] == 3e-4 and base["epochs"] == 100
    assert base["batch_size"] == 16 and base["val_split"] == 0.2
    original, retrained = _yaml("runs/original.yaml"), _yaml("runs/retrained.yaml")
    assert original["batch_size"] == 16 and original["init"] == "default"
    assert retrained["batch_size"] == 64 and retrained["init"] == "kaiming"
    full = _yaml("profiles/full.yaml")
    assert full["train_subset"] == 0 and full["eval_subset"] == 0 and "epochs" not in full
