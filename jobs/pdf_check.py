"""Active content in an uploaded PDF: scripts, actions that launch or send, attached files.

CVs are served as sandboxed attachments, but a partner opens them in a desktop reader, where
a script or a launch action runs. Such PDFs are refused (not rewritten): a CV has no use for
them, and a refusal tells the candidate to export the file again rather than silently
changing what the partner receives.

The check reads the file's names (``/JavaScript``, ``/Launch``…) everywhere a reader would
find them: in the file's own text, with ``#xx`` escapes decoded, and inside every
Flate-compressed stream, object streams included (PDF 1.5 hides dictionaries there). It does
not parse the document, so it also works on files a parser would reject.
"""

from __future__ import annotations

import re
import zlib

# Names that make a PDF do something when opened or clicked, or carry another file.
ACTIVE_NAMES = frozenset(
    {
        b"JavaScript",
        b"JS",
        b"Launch",
        b"SubmitForm",
        b"ImportData",
        b"GoToE",
        b"RichMedia",
        b"XFA",
        b"EmbeddedFile",
        b"EmbeddedFiles",
    }
)
# A name token: "/" then regular characters (PDF 32000-1, 7.3.5); "#xx" escapes any byte.
_NAME = re.compile(rb"/([^\s/\[\]<>(){}%]+)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n")
_END_STREAM = b"endstream"
# Inflating stops here: far more than a 5 MB CV holds, little enough for one request.
MAX_INFLATED_BYTES = 64 * 1024 * 1024


class TooComplex(Exception):
    """The compressed streams inflate past ``MAX_INFLATED_BYTES``."""


def _names(data: bytes) -> set[bytes]:
    return {
        _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), m.group(1))
        for m in _NAME.finditer(data)
    }


def _inflate(body: bytes, budget: int) -> bytes | None:
    """A Flate stream's content (at most ``budget`` bytes), or None if it is not Flate data."""
    inflater = zlib.decompressobj()
    try:
        content = inflater.decompress(body, budget + 1)
    except zlib.error:
        return None
    if len(content) > budget:
        raise TooComplex
    return content


def active_content(data: bytes) -> set[bytes]:
    """The active names a PDF holds (empty when none); TooComplex past the inflation budget."""
    found: set[bytes] = set()
    budget = MAX_INFLATED_BYTES
    position = 0
    outside: list[bytes] = []
    while True:
        start = _STREAM.search(data, position)
        if start is None:
            outside.append(data[position:])
            break
        outside.append(data[position : start.start()])
        end = data.find(_END_STREAM, start.end())
        body = data[start.end() : end if end != -1 else len(data)]
        content = _inflate(body, budget)
        if content is None:
            # Not Flate: plain or binary (images); names in plain text are still read.
            found |= _names(body) & ACTIVE_NAMES
        else:
            budget -= len(content)
            found |= _names(content) & ACTIVE_NAMES
        if end == -1:
            break
        position = end + len(_END_STREAM)
    found |= _names(b"\n".join(outside)) & ACTIVE_NAMES
    return found
