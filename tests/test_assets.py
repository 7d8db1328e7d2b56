"""The site's shared Vega bundle: vl-convert's own, made once per vl-convert version and kept in reportgen's cache
(assets.vega_bundle)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A cache folder of this test's own, and no bundle remembered by the process before or after it."""
    from reportgen.site import assets

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assets.vega_bundle.cache_clear()
    yield tmp_path / "cache" / "reportgen"
    assets.vega_bundle.cache_clear()


def test_the_bundle_is_vl_converts_kept_once_per_version_and_read_back(fresh, monkeypatch):
    import vl_convert

    from reportgen.site import assets

    own = vl_convert.javascript_bundle()
    assert assets.vega_bundle() == own
    kept = fresh / f"vega-bundle-vl-convert-{vl_convert.__version__}.js"
    assert kept.read_text(encoding="utf-8") == own
    assert [p.name for p in fresh.iterdir()] == [kept.name]  # written whole: no part file left
    # a later process reads the kept bundle: vl-convert is not asked again
    assets.vega_bundle.cache_clear()
    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda: pytest.fail("the bundle was made again"))
    assert assets.vega_bundle() == own
    # another version of vl-convert makes and keeps its own
    assets.vega_bundle.cache_clear()
    monkeypatch.setattr(vl_convert, "__version__", "0.0.0-other")
    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda: "the other version's bundle")
    assert assets.vega_bundle() == "the other version's bundle"
    assert (fresh / "vega-bundle-vl-convert-0.0.0-other.js").read_text(encoding="utf-8") == "the other version's bundle"


def test_an_empty_or_unwritable_cache_still_gives_the_bundle(fresh, tmp_path, monkeypatch):
    import vl_convert

    from reportgen.site import assets

    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda: "the bundle")
    kept = fresh / f"vega-bundle-vl-convert-{vl_convert.__version__}.js"
    fresh.mkdir(parents=True)
    kept.write_text("", encoding="utf-8")  # an empty file is made again
    assert assets.vega_bundle() == "the bundle" and kept.read_text(encoding="utf-8") == "the bundle"
    assets.vega_bundle.cache_clear()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # the cache folder cannot be made
    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda: "made without a cache")
    assert assets.vega_bundle() == "made without a cache"
    assert blocked.read_text(encoding="utf-8") == "not a folder"
