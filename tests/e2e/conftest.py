"""Session-wide kernels: each configuration is translated and built once."""

import pytest

from tests.e2e import kernels


@pytest.fixture(scope="session", params=sorted(kernels.CONFIGS))
def kernel(request, tmp_path_factory) -> kernels.BuiltKernel:
    built = kernels.build(request.param, str(tmp_path_factory.mktemp(request.param)))
    yield built
    built.ws.shutdown()
