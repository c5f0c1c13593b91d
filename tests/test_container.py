"""The .tfc container: round trip and every bad-input case named in docs/format.md."""

import struct
import zlib

import pytest

from tfcodec import FormatError, container

HEADER = container.Header("cw2020-small", bytes(range(8)), 512, 768, 500)
STRINGS = [b"abc", b"", bytes(range(256)) * 3]


def _packed():
    return container.pack(HEADER, STRINGS)


def _with_crc(body):
    return body + struct.pack(">I", zlib.crc32(body))


def test_round_trip():
    header, strings = container.unpack(_packed())
    assert header == HEADER
    assert strings == STRINGS


def test_varint_lengths_over_127_bytes():
    long = [b"x" * 200, b"y" * 20000]
    assert container.unpack(container.pack(HEADER, long))[1] == long


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"GIF89a" + b"\0" * 40, "wrong magic"),
    (b"\x89TF", "truncated"),
])
def test_rejects_foreign_or_empty(data, message):
    with pytest.raises(FormatError, match=message):
        container.unpack(data)


def test_rejects_every_truncation():
    data = _packed()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            container.unpack(data[:n])


def test_rejects_every_single_bit_flip():
    data = bytearray(_packed())
    for i in range(len(data)):
        for bit in (0, 3, 7):
            data[i] ^= 1 << bit
            with pytest.raises(FormatError):
                container.unpack(bytes(data))
            data[i] ^= 1 << bit


def test_rejects_other_version_by_name():
    data = bytearray(_packed())
    data[4] = 2
    with pytest.raises(FormatError, match="version 2"):
        container.unpack(_with_crc(bytes(data[:-4])))


def test_rejects_absurd_dimensions_before_allocating():
    body = bytearray(_packed()[:-4])
    offset = 4 + 1 + 1 + len(HEADER.model_id) + 8
    body[offset:offset + 8] = struct.pack(">II", 60000, 60000)
    with pytest.raises(FormatError, match="60000x60000"):
        container.unpack(_with_crc(bytes(body)))


def test_rejects_lengths_that_do_not_add_up():
    body = bytearray(_packed()[:-4])
    offset = 4 + 1 + 1 + len(HEADER.model_id) + 8 + 12
    body[offset] = 4  # first string claims 4 bytes instead of 3
    with pytest.raises(FormatError, match="lengths"):
        container.unpack(_with_crc(bytes(body)))


def test_pack_refuses_bad_headers():
    with pytest.raises(ValueError):
        container.pack(container.Header("m", b"short", 1, 1, 0), [])
    with pytest.raises(ValueError):
        container.pack(container.Header("m", bytes(8), 0, 1, 0), [])
