"""Container images: import OCI and docker images into a content-addressed
store of unpacked layers, and run them on an overlay root.

    store = ImageStore("/var/lib/libcontainer_py")
    image = store.import_archive("busybox.oci.tar")   # or store.pull("alpine:3.20")
    config = config_from_image(store, image, cmd=["echo", "hi"])

See docs/images.md.
"""

from .credentials import Credentials
from .errors import DigestMismatchError, ImageError, ImageNotFound, RegistryAuthError, RegistryError, UnsafeLayerError
from .from_image import config_from_image, image_args, image_env, image_file, resolve_user
from .platforms import Platform
from .progress import PullProgress
from .store import DEFAULT_STORE, Image, ImageRef, ImageStore
from .unpack import unpack_layer

__all__ = [
    "DEFAULT_STORE",
    "Credentials",
    "DigestMismatchError",
    "Image",
    "ImageError",
    "ImageNotFound",
    "ImageRef",
    "ImageStore",
    "Platform",
    "PullProgress",
    "RegistryAuthError",
    "RegistryError",
    "UnsafeLayerError",
    "config_from_image",
    "image_args",
    "image_env",
    "image_file",
    "resolve_user",
    "unpack_layer",
]
