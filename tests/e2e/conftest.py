"""Session-wide kernels: each configuration is translated and built once."""

import pytest

from tests.e2e import kernels

_BUILT: dict[str, kernels.BuiltKernel] = {}


def _get(name: str, tmp_path_factory) -> kernels.BuiltKernel:
    if name not in _BUILT:
        _BUILT[name] = kernels.build(name, str(tmp_path_factory.mktemp(name)),
                                     _disk_cache(tmp_path_factory))
    return _BUILT[name]


def _disk_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.getbasetemp() / "disk_cache")


@pytest.fixture(scope="session")
def disk_cache(tmp_path_factory) -> str:
    """One --disk_cache for the session: a build of the same kernel from
    another checkout or source copy reuses what an earlier test built
    (its keys hold no path), so kernels are compiled once per session."""
    return _disk_cache(tmp_path_factory)


@pytest.fixture(scope="session", autouse=True)
def _shutdown_bazel_servers():
    yield
    for built in _BUILT.values():
        built.ws.shutdown()


@pytest.fixture(scope="session", params=sorted(kernels.CONFIGS))
def kernel(request, tmp_path_factory) -> kernels.BuiltKernel:
    """Every configuration in kernels.CONFIGS, built by Bazel and Kbuild."""
    return _get(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def default_kernel(tmp_path_factory) -> kernels.BuiltKernel:
    """The default kernel only (what `./kthin build` builds: 6.1 x86_64)."""
    return _get("default", tmp_path_factory)



