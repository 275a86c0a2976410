"""A ``requests`` session that reads the proxy environment once per host.

With ``trust_env`` (the default), ``requests`` scans every environment variable
for proxy settings on every request (``get_environ_proxies``): about 0.1 ms each time,
a noticeable share of a loopback Bridge call or of a shard download's set-up. This
session asks once per scheme, host and port and remembers the answer, and reads
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` once. Proxy variables changed after the
session made its first request to a host are not seen by it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

__all__ = ["EnvironmentCachingSession"]

#: Hosts remembered before the cache starts again (farmers can be many).
_MAX_HOSTS = 1024


class EnvironmentCachingSession(requests.Session):
    """:class:`requests.Session` with the proxy environment cached per host (see the
    module docstring); otherwise identical."""

    def __init__(self) -> None:
        super().__init__()
        self._proxies_by_host: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self._lock = threading.Lock()
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get(
            "CURL_CA_BUNDLE"
        )

    def _environment_proxies(self, url: str, no_proxy: str | None) -> dict[str, str]:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        found = self._proxies_by_host.get(key)
        if found is None:
            found = dict(get_environ_proxies(url, no_proxy=no_proxy))
            with self._lock:
                if len(self._proxies_by_host) >= _MAX_HOSTS:
                    self._proxies_by_host.clear()
                self._proxies_by_host[key] = found
        return found

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: MutableMapping[str, str] | None,
        stream: bool | None,
        verify: bool | str | None,
        cert: Any,
    ) -> Any:
        if not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        merged: dict[str, str] = dict(proxies) if isinstance(proxies, Mapping) else {}
        for scheme, proxy in self._environment_proxies(url, merged.get("no_proxy")).items():
            merged.setdefault(scheme, proxy)
        if (verify is True or verify is None) and self._ca_bundle:
            verify = self._ca_bundle
        # What the base class does after its environment look-ups.
        return {
            "proxies": merge_setting(merged, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }
