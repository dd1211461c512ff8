"""The "download my data" zip: JSON files (one per source) and the person's own files.

Everything is read through the registered sources (``registry.SOURCES``), each of which
selects by the person's id only, so another member's rows or files cannot slip in. The zip
is written to a temporary file (CVs and evidence may weigh a few megabytes each), which the
response streams and the system removes when it is closed.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from typing import IO

from marketplace.accounts.models import User
from marketplace.database import utcnow
from marketplace.privacy.registry import SOURCES

logger = logging.getLogger(__name__)

README = """\
This archive holds the personal data {association} keeps about account {user_id},
as of {generated_at} (UTC).

- data/<source>.json: the rows about you, one file per part of the service;
- files/: the files you sent (verification evidence, CVs still kept).

Secrets (password hash, token hashes, two-factor secret) are never included.
"""


def export_name(user: User) -> str:
    return f"my-data-{user.id}-{utcnow():%Y%m%d}.zip"


def build_export(user: User, *, association: str) -> IO[bytes]:
    """The zip of ``user``'s data, in a temporary file rewound to its start."""
    generated_at = utcnow()
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response that streams it
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            README.format(
                association=association, user_id=user.id, generated_at=generated_at.isoformat()
            ),
        )
        used: set[str] = set()
        for source in SOURCES.values():
            payload = source.export(user)
            archive.writestr(
                f"data/{source.name}.json",
                json.dumps(payload, ensure_ascii=False, indent=2, default=str),
            )
            if source.files is None:
                continue
            for name, path in source.files(user):
                arcname = f"files/{name}"
                if arcname in used:
                    arcname = f"files/{source.name}-{len(used)}-{name.rsplit('/', 1)[-1]}"
                used.add(arcname)
                archive.write(path, arcname)
    handle.seek(0)
    logger.info("data export built for user %s", user.id)
    return handle
