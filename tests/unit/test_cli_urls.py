import pytest
from hypothesis import given
from hypothesis import strategies as st

from storj.cli._urls import (
    StorjUrl,
    base_name,
    is_storj_url,
    parse_storj_url,
    remote_name_for,
    safe_relative_path,
    strip_prefix,
)


@pytest.mark.parametrize(
    ("text", "bucket", "name"),
    [
        ("storj://b", "b", ""),
        ("storj://b/", "b", ""),
        ("storj://b/file.txt", "b", "file.txt"),
        ("storj://b/dir/sub/f", "b", "dir/sub/f"),
        ("storj://b/dir/", "b", "dir/"),
        ("STORJ://b/x", "b", "x"),
    ],
)
def test_parse(text, bucket, name):
    assert parse_storj_url(text) == StorjUrl(bucket, name)


@pytest.mark.parametrize("text", ["storj://", "storj:///x", "s3://b/x", "b/x", "", "storj:/b"])
def test_parse_rejects(text):
    with pytest.raises(ValueError, match="storj://"):
        parse_storj_url(text)


def test_flags_and_str():
    assert StorjUrl("b").is_bucket and StorjUrl("b").is_prefix
    assert StorjUrl("b", "d/").is_prefix and not StorjUrl("b", "d/").is_bucket
    assert not StorjUrl("b", "f").is_prefix
    assert str(StorjUrl("b", "f")) == "storj://b/f"
    assert is_storj_url("storj://x") and not is_storj_url("/tmp/storj://x")


def test_remote_name_for():
    assert remote_name_for(StorjUrl("b"), "a.txt", single=True) == "a.txt"
    assert remote_name_for(StorjUrl("b", "d/"), "a.txt", single=True) == "d/a.txt"
    assert remote_name_for(StorjUrl("b", "new.txt"), "a.txt", single=True) == "new.txt"
    assert remote_name_for(StorjUrl("b", "d/"), "top/x/y", single=False) == "d/top/x/y"
    with pytest.raises(ValueError, match="end it with /"):
        remote_name_for(StorjUrl("b", "new.txt"), "a.txt", single=False)


def test_safe_relative_path():
    assert safe_relative_path("/a//b/./c").as_posix() == "a/b/c"
    with pytest.raises(ValueError, match=r"\.\."):
        safe_relative_path("a/../../etc/passwd")
    with pytest.raises(ValueError):
        safe_relative_path("//")


def test_strip_prefix_and_base_name():
    assert strip_prefix("d/x/y", "d/") == "x/y"
    assert strip_prefix("other", "d/") == "other"
    assert strip_prefix("x", "") == "x"
    assert base_name("a/b/c.txt") == "c.txt"
    assert base_name("c.txt") == "c.txt"


names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                min_size=0, max_size=30)
buckets = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                  min_size=1, max_size=20)


@given(buckets, names)
def test_parse_roundtrip(bucket, name):
    url = parse_storj_url(f"storj://{bucket}/{name}")
    assert url == StorjUrl(bucket, name)
    assert parse_storj_url(str(url)) == url


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "c d"]), min_size=1, max_size=6))
def test_safe_relative_path_never_escapes(parts):
    name = "/".join(parts)
    try:
        path = safe_relative_path(name)
    except ValueError:
        return
    assert not path.is_absolute()
    assert ".." not in path.parts
