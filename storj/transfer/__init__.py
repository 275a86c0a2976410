"""The transfer engine: upload and download of files of any size, byte-compatible with
libstorj (``bridge-protocol.md`` §5–§8).

* :func:`upload_file` — encrypt, shard, hash (audit leaves), add Reed–Solomon parity,
  negotiate contracts, push shards to farmers and create the bucket entry;
* :func:`download_file` — list pointers, fetch and verify shards concurrently, rebuild
  missing ones from parity, decrypt and check the file HMAC;
* :func:`open_file` — a seekable reader that fetches only the shards a read needs;
* :func:`file_upload` — the documented ``Client.file_upload(bucket_id, file, frame)``.

The :class:`storj.http.Client` methods of the same names delegate here. Tuning is a
:class:`TransferConfig`; progress is a callable ``progress(bytes_done, bytes_total)``
called from the caller's thread; cancel is anything with ``is_set()``.
"""

from storj.transfer.config import TransferConfig
from storj.transfer.download import download_file
from storj.transfer.progress import CancelToken, ProgressCallback
from storj.transfer.reader import StorjFileReader, open_file
from storj.transfer.upload import ShardLayout, file_upload, upload_file

__all__ = [
    "CancelToken",
    "ProgressCallback",
    "ShardLayout",
    "StorjFileReader",
    "TransferConfig",
    "download_file",
    "file_upload",
    "open_file",
    "upload_file",
]
