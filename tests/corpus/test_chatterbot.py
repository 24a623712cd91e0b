"""Short texts: the ChatterBot corpus's opening lines as a labelled corpus of another kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from simcse_lab.corpus.chatterbot import questions_table
from simcse_lab.corpus.load import load_corpus

DATA = Path(__file__).resolve().parents[2] / "data"


def test_each_dialogue_gives_its_opening_line_once_and_an_ambiguous_line_is_dropped(tmp_path):
    (tmp_path / "science.yml").write_text(
        "categories:\n- science\nconversations:\n- - what is a wavelength\n  - the inverse of frequency.\n"
        "- - what is a wavelength\n  - asked twice, kept once\n- - hello\n  - hi\n- - '  what is h2o '\n  - water\n"
    )
    (tmp_path / "greetings.yml").write_text(
        "categories:\n- greetings\nconversations:\n- - hello\n  - hi there\n- - good morning\n  - morning\n"
    )
    (tmp_path / "empty.yml").write_text("categories:\n- empty\n")
    df = questions_table(tmp_path)
    assert df.values.tolist() == [
        ["good morning", "greetings"],
        ["what is a wavelength", "science"],
        ["what is h2o", "science"],
    ]  # 'hello' is under two categories


@pytest.mark.slow
def test_chatterbot_questions_come_hash_pinned_from_the_wheel():
    from simcse_lab.core.assets import AssetError
    from simcse_lab.corpus.bundled import BUNDLED
    from simcse_lab.corpus.chatterbot import build_questions_table

    c = load_corpus("chatterbot-questions", data_dir=DATA)
    assert len(c) == 746 and c.levels == ["Category"] and len(set(c.labels["Category"])) == 21
    assert "chatterbot-corpus 1.3.3" in c.source and "sha256" in c.source
    assert max(len(t.split()) for t in c.texts) < 40  # short texts
    spec = BUNDLED["chatterbot-questions"]
    with pytest.raises(AssetError, match="the table built from chatterbot_corpus/data/english .* has sha256"):
        build_questions_table(spec.asset, spec.member, "0" * 64, DATA)
