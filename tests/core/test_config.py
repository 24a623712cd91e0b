import dataclasses
import re

import pytest
import yaml

from simcse_lab.core.config import (
    ExperimentConfig,
    config_hash,
    from_dict,
    from_flat,
    list_profiles,
    load_config,
    parse_overrides,
    to_dict,
    to_flat,
    to_yaml,
    with_overrides,
)
from simcse_lab.core.params import describe


def test_round_trips():
    cfg = with_overrides(ExperimentConfig(), {"corpus.n_samples": 123, "cluster.clusterers": ["kmeans"]})
    assert from_dict(to_dict(cfg)) == cfg
    assert from_flat(to_flat(cfg)) == cfg
    assert from_dict(yaml.safe_load(to_yaml(cfg))) == cfg


def test_hash_is_stable_and_sensitive():
    a, b = ExperimentConfig(), ExperimentConfig()
    assert config_hash(a) == config_hash(b)
    assert config_hash(with_overrides(a, {"seed": 1})) != config_hash(a)


def test_frozen_and_not_mutated():
    cfg = ExperimentConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3  # type: ignore[misc]
    new = with_overrides(cfg, {"seed": 3})
    assert cfg.seed == 42 and new.seed == 3


def test_unknown_key_names_allowed_ones():
    with pytest.raises(ValueError, match="unknown config key 'corpus.nsamples'"):
        with_overrides(ExperimentConfig(), {"corpus.nsamples": 3})
    with pytest.raises(ValueError, match="allowed"):
        from_dict({"corpus": {"bogus": 1}})


@pytest.mark.parametrize(
    "key,value,msg",
    [("seed", "abc", "integer"), ("encode.normalize", "yes", "true or false"), ("corpus.n_samples", 1.5, "integer")],
)
def test_bad_types_are_named(key, value, msg):
    with pytest.raises(ValueError, match=msg):
        with_overrides(ExperimentConfig(), {key: value})


def test_overrides_parse_yaml_values():
    parsed = parse_overrides(["corpus.n_samples=500", "models.encoders=[minilm, tfidf-lsa]", "corpus.level="])
    assert parsed == {"corpus.n_samples": 500, "models.encoders": ["minilm", "tfidf-lsa"], "corpus.level": None}
    with pytest.raises(ValueError, match="section.key=value"):
        parse_overrides(["nonsense"])


def test_profiles_load_and_differ():
    assert {"default", "seed"} <= set(list_profiles())
    default, seed = load_config("default"), load_config("seed")
    assert default.models.simcse_from == ("minilm",)
    assert seed.train.batch_size == 20 and seed.train.epochs == 2 and seed.train.max_seq_length == 256
    assert "distilroberta-base" in seed.models.encoders


def test_load_config_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        load_config("nope")
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="mapping"):
        load_config(bad)


def test_every_key_is_documented():
    rows = describe()
    assert {k for k, _, _ in rows} == set(to_flat(ExperimentConfig()))
    assert all(h.strip() for _, _, h in rows)


def test_sections_and_param_names_are_reversible():
    from simcse_lab.core.params import SECTIONS, key_of_param, param_name

    assert set(SECTIONS) == {k for k, v in to_dict(ExperimentConfig()).items() if isinstance(v, dict)}
    for key in to_flat(ExperimentConfig()):
        assert key_of_param(param_name(key)) == key
    assert key_of_param("not_a_key") is None


def test_from_params_accepts_flat_dotted_and_sections():
    from simcse_lab.core.params import from_params

    cfg = from_params(
        {
            "corpus_n_samples": 10,
            "train.epochs": 2.0,
            "cluster": {"clusterers": ["kmeans"]},
            "encode_pooling": None,
            "__name__": "ignored",
        },
        base="seed",
    )
    assert cfg.corpus.n_samples == 10 and cfg.train.epochs == 2.0 and cfg.cluster.clusterers == ("kmeans",)
    assert cfg.encode.pooling == "mean" and cfg.train.batch_size == 20  # None and absent keep the base


def test_renamed_keys_are_read_with_a_warning_that_names_the_new_key():
    """The clusterers' settings moved into their own sections (cluster.hdbscan.min_samples) and
    cluster.methods became cluster.clusterers: a YAML file, an override, a notebook parameter or a
    recorded run's config.yaml with the old names still means the same config."""
    from simcse_lab.core.params import from_params

    new = with_overrides(
        ExperimentConfig(),
        {"cluster.clusterers": ["kmeans"], "cluster.hdbscan.min_samples": 3, "cluster.kmeans.n_init": 4},
    )
    with pytest.warns(FutureWarning) as got:
        from_yaml = from_dict({"cluster": {"methods": ["kmeans"], "min_samples": 3, "kmeans_n_init": 4}})
    assert from_yaml == new
    assert sorted(str(w.message) for w in got) == [
        "config key 'cluster.kmeans_n_init' is now 'cluster.kmeans.n_init'; the old name is read for now",
        "config key 'cluster.methods' is now 'cluster.clusterers'; the old name is read for now",
        "config key 'cluster.min_samples' is now 'cluster.hdbscan.min_samples'; the old name is read for now",
    ]
    with pytest.warns(FutureWarning) as got:
        overridden = with_overrides(
            ExperimentConfig(),
            {"cluster.methods": ["kmeans"], "cluster.min_samples": 3, "cluster.kmeans_n_init": 4},
        )
    assert overridden == new and config_hash(overridden) == config_hash(new) and len(got) == 3
    with pytest.warns(FutureWarning):
        params = from_params({"cluster_methods": ["kmeans"], "cluster_min_samples": 3, "cluster_kmeans_n_init": 4})
    assert params.cluster == new.cluster
    assert from_params({"cluster_hdbscan_min_samples": 3}).cluster.hdbscan.min_samples == 3
    assert from_params({"cluster": {"hdbscan": {"min_samples": 3}}}).cluster.hdbscan.min_samples == 3
    with pytest.raises(ValueError, match="'cluster.min_samples' and 'cluster.hdbscan.min_samples' are both given"):
        with pytest.warns(FutureWarning):
            from_dict({"cluster": {"min_samples": 3, "hdbscan": {"min_samples": 4}}})


def test_yes_no_on_off_are_read_as_written():
    """YAML 1.1 reads an unquoted No (a class, Norway's code) as false; configs read YAML 1.2's booleans."""
    from simcse_lab.core.config import load_config, parse_overrides

    cfg = load_config("default", parse_overrides(["corpus.drop_labels=[No, off, Yes]", "corpus.dedupe=false"]))
    assert cfg.corpus.drop_labels == ("No", "off", "Yes") and cfg.corpus.dedupe is False


def test_pairs_restrict_only_the_methods_they_name():
    """The explore profile pairs kmeans/raw and hdbscan/umap; a clusterer added to it (EVoC, as the
    docs suggest) runs in every space instead of making the config invalid."""
    from simcse_lab.core.validation import validate

    cfg = load_config("explore", parse_overrides(["cluster.clusterers=[kmeans, hdbscan, evoc]"]))
    validate(cfg)
    assert cfg.cluster.runs() == [("kmeans", "raw"), ("evoc", "raw"), ("hdbscan", "umap"), ("evoc", "umap")]
    validate(
        load_config("explore", parse_overrides(["cluster.clusterers=[kmeans, evoc]"]))
    )  # as without-labels.md says
    only_raw = load_config("explore", parse_overrides(["cluster.clusterers=[kmeans]"]))
    validate(only_raw)
    assert not only_raw.cluster.space_runs("umap")  # no UMAP is fitted that nobody clusters
    with pytest.raises(ValueError, match=r"cluster.pairs: 'kmeans/rwa' is not a clusterer/space pair"):
        validate(load_config("explore", parse_overrides(["cluster.pairs=[kmeans/rwa]"])))
    raw_only = load_config("explore", parse_overrides(["cluster.spaces=[raw]"]))
    validate(raw_only)  # HDBSCAN, paired with UMAP only, is left out (the run warns), KMeans still runs
    assert raw_only.cluster.runs() == [("kmeans", "raw")] and raw_only.cluster.idle_clusterers() == ["hdbscan"]
    with pytest.raises(ValueError, match="leave no clusterer"):
        validate(load_config("explore", parse_overrides(["cluster.clusterers=[hdbscan]", "cluster.spaces=[raw]"])))


def test_numbers_mean_what_they_say_and_a_list_names_a_thing_once():
    from simcse_lab.core.config import load_config, parse_overrides, validate

    for item, message in (
        ("corpus.n_samples=.inf", "config key 'corpus.n_samples' must be an integer, got inf"),
        ("train.epochs=.inf", "config key 'train.epochs' must be a finite number, got inf"),
        ("train.learning_rate=.nan", "config key 'train.learning_rate' must be a finite number, got nan"),
        ("cluster.clusterers=[kmeans, hdbscan, kmeans]", "cluster.clusterers lists kmeans twice"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            validate(load_config("default", parse_overrides([item])))
    assert load_config("default", parse_overrides(["corpus.n_samples=017"])).corpus.n_samples == 17  # not octal


def test_the_python_api_says_what_it_takes():
    import simcse_lab

    with pytest.raises(ValueError, match="unknown profile 'nonexistent'"):
        simcse_lab.compare("nonexistent")
    with pytest.raises(TypeError, match=r"compare takes a config .* got dict; for overrides use load_config"):
        simcse_lab.compare({"seed": 1})
    with pytest.raises(TypeError, match="run takes a config"):
        simcse_lab.run(3)
    with pytest.raises(TypeError, match=r"resolve\(spec, cfg\) takes a config .* got NoneType"):
        simcse_lab.resolve("tfidf-lsa", None)
