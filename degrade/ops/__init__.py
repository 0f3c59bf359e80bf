"""All registered ops (importing this package registers them), functional and module forms."""

from degrade.ops.blur import *  # noqa: F401,F403
from degrade.ops.color import *  # noqa: F401,F403
from degrade.ops.compression import *  # noqa: F401,F403
from degrade.ops.imagenet_c import *  # noqa: F401,F403
from degrade.ops.kernel_blur import *  # noqa: F401,F403
from degrade.ops.noise import *  # noqa: F401,F403
from degrade.ops.resize import *  # noqa: F401,F403
from degrade.ops.sharpen import *  # noqa: F401,F403
from degrade.ops.spatial import *  # noqa: F401,F403
from degrade.ops.weather import *  # noqa: F401,F403
