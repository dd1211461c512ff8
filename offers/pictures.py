"""An offer's optional picture: checked, resized and stripped of its metadata with Pillow.

An upload is opened by Pillow (its content decides, never its name), refused above
``MAX_UPLOAD_BYTES`` or ``MAX_PIXELS``, turned upright (EXIF orientation) and re-encoded
as WebP at each width of ``WIDTHS`` from the pixels alone: no EXIF, GPS or colour profile
is carried over. The files are named by a random token (``<token>-<width>.webp``), so a
new picture has new addresses and each address can be cached for a year.
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from marketplace.accounts.models import User
from marketplace.errors import InvalidInput
from marketplace.extensions import db
from offers.models import Offer

logger = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# Beyond this many pixels an image is refused before it is decoded (a decompression bomb).
MAX_PIXELS = 40_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# The widths stored; pages offer them to the browser in ``srcset``.
WIDTHS = (480, 960)
QUALITY = 82
NAME = re.compile(r"^[0-9a-f]{32}-(\d+)\.webp$")


class InvalidPicture(InvalidInput):
    code = "invalid_picture"
    message = _l("Send the picture as a JPEG, PNG or WebP image of 5 MB at most.")


def picture_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "offer-pictures"


def file_name(token: str, width: int) -> str:
    return f"{token}-{width}.webp"


def picture_path(name: str) -> Path | None:
    """The stored file of a picture's address, if the name is one of ours."""
    match = NAME.fullmatch(name or "")
    if match is None or int(match.group(1)) not in WIDTHS:
        return None
    return picture_folder() / name


def render_widths(data: bytes) -> dict[int, bytes]:
    """The picture at each width of ``WIDTHS`` (never enlarged), as WebP without metadata."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidPicture()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise InvalidPicture()
            if probe.width * probe.height > MAX_PIXELS:
                raise InvalidPicture(_l("The picture has too many pixels."))
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            mode = "RGBA" if "A" in upright.getbands() else "RGB"
            # A new image from the pixels only: nothing of the file's metadata comes along.
            pixels = Image.new(mode, upright.size)
            pixels.paste(upright.convert(mode))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise InvalidPicture() from error
    rendered = {}
    for width in WIDTHS:
        copy = pixels.copy()
        copy.thumbnail((width, width * 4), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        copy.save(out, format="WEBP", quality=QUALITY, method=4)
        rendered[width] = out.getvalue()
    return rendered


def store_picture(data: bytes) -> str:
    """Check and store a picture's widths; the token naming them."""
    rendered = render_widths(data)
    token = secrets.token_hex(16)
    folder = picture_folder()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        for width, content in rendered.items():
            path = folder / file_name(token, width)
            path.write_bytes(content)
            written.append(path)
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return token


def delete_picture(token: str | None) -> None:
    """Remove a picture's files (after the row stopped pointing at them)."""
    if not token or not re.fullmatch(r"[0-9a-f]{32}", token):
        return
    for width in WIDTHS:
        (picture_folder() / file_name(token, width)).unlink(missing_ok=True)


def set_offer_picture(offer: Offer, *, actor: User, data: bytes | None) -> str | None:
    """Give ``offer`` a new picture (``data``) or none; returns the token it no longer uses,
    whose files the caller deletes once the change is committed (flushes, no commit)."""
    previous = offer.picture
    offer.picture = store_picture(data) if data is not None else None
    db.session.flush()
    logger.info("offer %s picture %s by user %s", offer.id, "set" if data else "removed", actor.id)
    return previous
