"""Fleetgate shared layer: one package per bounded context, plus ``core``.

Cold start: in a Lambda process, the cyclic garbage collector is paused while a handler module imports the layer
(hundreds of classes and their metadata, none of it garbage: a full collection then scans them all, several
times, for nothing) and resumed, with everything imported frozen out of later collections, when the handler is
built (``fleetgate.core.observability.http_handler`` / ``event_handler``, the last line of every handler module).
Elsewhere (tests, the local cloud) nothing changes.
"""

import gc
import os

if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and gc.isenabled():
    gc.disable()
