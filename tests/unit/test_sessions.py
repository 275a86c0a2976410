"""storj._sessions: the proxy environment read once per host, same answers as requests."""

from __future__ import annotations

import pytest
import requests

from storj._sessions import EnvironmentCachingSession

URLS = [
    "http://example.com/buckets",
    "https://example.com:8443/x",
    "http://localhost:4000/shards/ab",
    "http://127.0.0.1:9/",
    "http://farmer.internal:4001/shards/cd?token=t",
]


@pytest.fixture
def proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://secure-proxy.example:3129")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1,.internal")
    return monkeypatch


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize(
    "proxies", [{}, {"http": "http://explicit:1"}, {"no_proxy": "example.com"}]
)
def test_settings_equal_those_of_a_plain_session(proxy_env, url, proxies):
    expected = requests.Session().merge_environment_settings(url, dict(proxies), None, None, None)
    session = EnvironmentCachingSession()
    for _ in range(2):  # the second answer comes from the cache
        got = session.merge_environment_settings(url, dict(proxies), None, None, None)
        assert got == expected


def test_proxies_are_applied_and_bypassed_per_host(proxy_env):
    session = EnvironmentCachingSession()
    remote = session.merge_environment_settings(URLS[0], {}, None, None, None)
    assert remote["proxies"]["http"] == "http://proxy.example:3128"
    local = session.merge_environment_settings(URLS[2], {}, None, None, None)
    assert "http" not in local["proxies"]


def test_the_environment_is_read_once_per_host(proxy_env):
    session = EnvironmentCachingSession()
    session.merge_environment_settings(URLS[0], {}, None, None, None)
    proxy_env.setenv("HTTP_PROXY", "http://other-proxy:1")
    again = session.merge_environment_settings(URLS[0], {}, None, None, None)
    assert again["proxies"]["http"] == "http://proxy.example:3128"
    fresh = EnvironmentCachingSession().merge_environment_settings(URLS[0], {}, None, None, None)
    assert fresh["proxies"]["http"] == "http://other-proxy:1"


def test_ca_bundle_from_the_environment_and_explicit_verify_wins(proxy_env, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read here")
    proxy_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = EnvironmentCachingSession()
    assert session.merge_environment_settings(URLS[1], {}, None, None, None)["verify"] == str(
        bundle
    )
    assert session.merge_environment_settings(URLS[1], {}, None, False, None)["verify"] is False


def test_trust_env_off_ignores_the_environment(proxy_env):
    session = EnvironmentCachingSession()
    session.trust_env = False
    assert session.merge_environment_settings(URLS[0], {}, None, None, None)["proxies"] == {}
