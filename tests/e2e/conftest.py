"""Session-wide kernels: each configuration is translated and built once."""

import os

import pytest

from tests.e2e import kernels, reapi

_BUILT: dict[str, kernels.BuiltKernel] = {}
# The session's HTTP cache (nginx), started with the default kernel's build,
# which writes every action's result to it (fixture http_cache).
_HTTP: dict = {}


def _get(name: str, tmp_path_factory) -> kernels.BuiltKernel:
    if name not in _BUILT:
        _BUILT[name] = kernels.build(name, str(tmp_path_factory.mktemp(name)),
                                     _disk_cache(tmp_path_factory),
                                     _http_cache(tmp_path_factory) if name == "default" else "")
    return _BUILT[name]


def _http_cache(tmp_path_factory) -> str:
    if not _HTTP:
        tmp = str(tmp_path_factory.mktemp("http_cache"))
        _HTTP["server"], _HTTP["url"] = reapi.nginx_cache(tmp)
        _HTTP["files"] = os.path.join(tmp, "cache")
    return _HTTP["url"]


def _disk_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.getbasetemp() / "disk_cache")


@pytest.fixture(scope="session")
def disk_cache(tmp_path_factory) -> str:
    """One --disk_cache for the session: a build of the same kernel from
    another checkout or source copy reuses what an earlier test built
    (its keys hold no path), so kernels are compiled once per session."""
    return _disk_cache(tmp_path_factory)


@pytest.fixture(scope="session")
def http_cache(default_kernel) -> tuple[str, str]:
    """(URL, files) of nginx, an HTTP cache that Bazel itself filled: the
    default kernel's build had it as --remote_cache beside the disk cache,
    so it holds every action's result, the local-only actions' included."""
    return _HTTP["url"], _HTTP["files"]


@pytest.fixture(scope="session", autouse=True)
def _shutdown_bazel_servers():
    yield
    for built in _BUILT.values():
        built.ws.shutdown()
    if _HTTP:
        _HTTP["server"].stop()


@pytest.fixture(scope="session", params=sorted(kernels.CONFIGS))
def kernel(request, tmp_path_factory) -> kernels.BuiltKernel:
    """Every configuration in kernels.CONFIGS, built by Bazel and Kbuild."""
    return _get(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def default_kernel(tmp_path_factory) -> kernels.BuiltKernel:
    """The default kernel only (what `./kthin build` builds: 6.1 x86_64)."""
    return _get("default", tmp_path_factory)



