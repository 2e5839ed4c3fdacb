"""The OCI runtime spec: config.json <-> Config."""

from .spec import NO_PROCESS, OCI_VERSION, OciConfig, OciWarning, config_from_oci, config_to_oci, load_bundle

__all__ = ["NO_PROCESS", "OCI_VERSION", "OciConfig", "OciWarning", "config_from_oci", "config_to_oci", "load_bundle"]
