"""The OCI runtime spec: config.json <-> Config."""

from .spec import OCI_VERSION, OciConfig, OciWarning, config_from_oci, config_to_oci, load_bundle

__all__ = ["OCI_VERSION", "OciConfig", "OciWarning", "config_from_oci", "config_to_oci", "load_bundle"]
