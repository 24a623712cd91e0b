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
        (["encode", "--model", "./missing-model", "--out", "x.npy", "--set", "corpus.source=/no/file.csv"],
         "corpus file not found"),
    ],
)
def test_errors_are_one_line(capsys, argv, msg):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simcse-lab: error:") and msg in err[0]


def test_encode_writes_npy(tmp_path, tiny_csv, capsys):
    import numpy as np

    out = tmp_path / "emb.npy"
    argv = ["encode", "--model", "tfidf-lsa", "--out", str(out), "--set", f"corpus.source={tiny_csv}",
            "--set", f"data_dir={tmp_path / 'data'}", "--set", "corpus.n_samples=null"]
    assert main(argv) == 0
    x = np.load(out, allow_pickle=False)
    assert x.shape[0] == 60 and x.dtype == np.float32
