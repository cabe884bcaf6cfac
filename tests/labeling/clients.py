"""Starlette's TestClient for the labeling app, addressed to 127.0.0.1 from a chosen client."""
import warnings

with warnings.catch_warnings():
    # Starlette >= 1 prefers the httpx2 package and warns when it falls back to httpx.
    warnings.filterwarnings("ignore", message=".*httpx2")
    from starlette.testclient import TestClient


def client(app, host="127.0.0.1"):
    """A TestClient whose requests come from ``host`` and are addressed to 127.0.0.1."""
    return TestClient(app, base_url="http://127.0.0.1", client=(host, 50000))
