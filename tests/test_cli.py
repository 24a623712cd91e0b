import pytest

from simcse_lab.cli import main


def test_config_keys_lists_every_key(capsys):
    assert main(["config", "--keys"]) == 0
    out = capsys.readouterr().out
    assert "corpus.n_samples" in out and "train.scale" in out


def test_config_shows_overrides(capsys):
    assert main(["config", "seed", "--set", "corpus.n_samples=10"]) == 0
    out = capsys.readouterr().out
    assert "n_samples: 10" in out and "distilroberta-base" in out


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["config", "--set", "bogus.key=1"], "unknown config key 'bogus.key'"),
        (["compare", "--set", "corpus.source=/no/such/file.csv"], "corpus file not found"),
        (["compare", "no-such-profile"], "unknown profile"),
        (
            ["encode", "--model", "./missing-model", "--out", "x.npy", "--set", "corpus.source=/no/file.csv"],
            "corpus file not found",
        ),
    ],
)
def test_errors_are_one_line(capsys, argv, msg):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simcse-lab: error:") and msg in err[0]


def test_encode_writes_npy(tmp_path, tiny_csv, capsys):
    import numpy as np

    out = tmp_path / "emb.npy"
    argv = [
        "encode",
        "--model",
        "tfidf-lsa",
        "--out",
        str(out),
        "--set",
        f"corpus.source={tiny_csv}",
        "--set",
        f"data_dir={tmp_path / 'data'}",
        "--set",
        "corpus.n_samples=null",
        "--set",
        "corpus.heldout=0",
    ]
    assert main(argv) == 0
    x = np.load(out, allow_pickle=False)
    assert x.shape[0] == 60 and x.dtype == np.float32
    # with texts held out (as the default profile does), the texts a comparison scores
    assert main([*argv[:-1], "corpus.heldout=0.5"]) == 0
    assert np.load(out, allow_pickle=False).shape[0] == 30


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["encode", "--model", "minilmx", "--out", "x.npy"], "unknown model spec 'minilmx' (did you mean 'minilm'?)"),
        (["train", "--model", "tfidf-lsa"], "'tfidf-lsa' is not a trainable model"),
        (["train", "--model", "minilm", "--method", "simcsx"], "unknown training method 'simcsx'"),
        (["compare", "--set", "models.encoders=[minilmx]"], "aliases: minilm, "),
    ],
)
def test_bad_model_specs_fail_at_once(capsys, tmp_path, tiny_csv, argv, msg):
    import time

    t0 = time.perf_counter()
    code = main([*argv, "--set", f"corpus.source={tiny_csv}", "--set", f"data_dir={tmp_path / 'data'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and msg in err[0]
    assert time.perf_counter() - t0 < 10  # no hub retries (they took 49 s)


@pytest.mark.slow
def test_mlm_spec_works_with_encode_train_and_compare(tmp_path, tiny_csv, tiny_checkpoint, capsys):
    """``mlm`` goes through the one resolver in every command: pretrained once (a tiny budget),
    then encoded, trained with SimCSE and compared from the same cached folder."""
    import numpy as np

    common = [
        "--set",
        f"corpus.source={tiny_csv}",
        "--set",
        f"data_dir={tmp_path / 'data'}",
        "--set",
        f"runs_dir={tmp_path / 'runs'}",
        "--set",
        "corpus.n_samples=null",
        "--set",
        f"pretrain.tokenizer={tiny_checkpoint}",
        "--set",
        "pretrain.hidden_size=32",
        "--set",
        "pretrain.num_layers=1",
        "--set",
        "pretrain.num_heads=2",
        "--set",
        "pretrain.max_steps=3",
        "--set",
        "pretrain.batch_size=8",
        "--set",
        "pretrain.max_seq_length=16",
        "--set",
        "encode.max_seq_length=16",
        "--set",
        "encode.show_progress=false",
        "--set",
        "train.batch_size=8",
        "--set",
        "train.max_seq_length=16",
        "--set",
        "train.epochs=0.5",
        "-q",
    ]
    out = tmp_path / "mlm.npy"
    assert main(["encode", "seed-offline", "--model", "mlm", "--out", str(out), *common]) == 0
    x = np.load(out, allow_pickle=False)
    assert x.shape == (60, 32)
    mlm_runs = list((tmp_path / "data" / "interim" / "models").glob("mlm-*"))
    assert len(mlm_runs) == 1

    assert main(["train", "seed-offline", "--model", "mlm", *common]) == 0
    printed = capsys.readouterr().out
    assert "trained model:" in printed and "simcse-" in printed

    assert (
        main(
            [
                "compare",
                "seed-offline",
                *common,
                "--set",
                "models.encoders=[mlm, tfidf-lsa]",
                "--set",
                "cluster.spaces=[raw]",
                "--set",
                "reduce.plot_2d=false",
                "--set",
                "metrics.sts_splits=[]",
                "--set",
                "metrics.n_alignment_texts=0",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "simcse(mlm)" in printed and "| mlm " in printed
    assert list((tmp_path / "data" / "interim" / "models").glob("mlm-*")) == mlm_runs  # pretrained once
