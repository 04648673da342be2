"""The lean client's ListObjectsV2 page: the one-pattern-per-field reading equals the XML parse."""

from __future__ import annotations

from cosbatch.storage.lean import _list_page, _list_page_fast

PAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>
<KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<Contents><Key>a+b.txt</Key><LastModified>2026-12-06T15:47:58.000Z</LastModified>
<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>a%2Bb%26c%3C.txt</Key><LastModified>2026-12-06T15:47:59Z</LastModified>
<ETag>&#34;0123456789abcdef0123456789abcdef-2&#34;</ETag><Size>12</Size><StorageClass>GLACIER</StorageClass></Contents>
<Contents><Key>%C3%A9/%C3%BC</Key><LastModified>2026-12-06T15:48:00Z</LastModified>
<ETag>"x"</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents>
<NextContinuationToken>tok&amp;en</NextContinuationToken></ListBucketResult>"""


def test_fast_reading_equals_the_xml_parse():
    fast = _list_page_fast(PAGE)
    assert fast == _list_page(PAGE)
    assert [c["Key"] for c in fast["Contents"]] == ["a b.txt", "a+b&c<.txt", "é/ü"]
    assert fast["Contents"][1]["ETag"] == '"0123456789abcdef0123456789abcdef-2"'
    assert fast["Contents"][1]["StorageClass"] == "GLACIER" and fast["IsTruncated"] is True
    assert fast["NextContinuationToken"] == "tok&en"


def test_fields_that_do_not_line_up_fall_back_to_the_xml_parse():
    missing_class = PAGE.replace(b"<StorageClass>GLACIER</StorageClass>", b"")
    assert _list_page_fast(missing_class) is None
    assert [c["StorageClass"] for c in _list_page(missing_class)["Contents"]] == ["STANDARD"] * 3
