"""Media services (no Flask): resumable uploads, stored files, references, processing, clean-up.

One module per sub-domain, all re-exported here so that ``from backend.media import services`` reaches
everything (callers need not know the split):

* ``common``: the settings (``MediaSettings``), what an upload's client learns (``UploadState``), hashes
  and file names;
* ``uploads``: who may upload and how much may wait (quotas), resumable sessions (``create_upload``,
  ``append``, ``upload_state``, ``abort_upload``), a whole small file in one request (``store_whole``),
  the finish (hash, check, store, record, the processing in the request or by a job);
* ``references``: stored files, who holds and who reads them (``may_read``, ``readable``), the
  inspections' references (``add_references``, ``remove_references``, ``unusable``, ``missing``) and the
  files the server makes (``add_generated``): the sync engine's interface, part of its transaction;
* ``upkeep``: the copies of a photo made on first need (``derived``), the jobs' work (``process``: EXIF
  facts, thumbnail, public copy; ``cleanup``).

How files are stored (a folder or an S3 bucket) is ``storage``; what a file must be, ``checks``; the image
work, ``processing``. The upload protocol is in docs/sync.md ("Photos and attachments").
"""
from __future__ import annotations

from backend.media.common import *  # noqa: F401,F403  (re-exported)
from backend.media.common import _facts_read, _hashes, _processed, _processed_detail  # noqa: F401
from backend.media.references import *  # noqa: F401,F403
from backend.media.uploads import *  # noqa: F401,F403
from backend.media.uploads import (  # noqa: F401
    _check_quotas, _check_unreferenced, _declared, _finish, _hold, _Locked, _may_upload_kind, _no_inspection,
    _open_inspection_and_unreferenced, _open_inspection_query, _refuse, _stored)
from backend.media.upkeep import *  # noqa: F401,F403
from backend.media.upkeep import _remove_stray_parts  # noqa: F401
