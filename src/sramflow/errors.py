"""Typed errors. Library code raises these; only the CLI turns them into exit codes."""


class SramflowError(Exception):
    """Base class: a problem with the user's input that the message explains how to fix."""


class CheckpointError(SramflowError):
    """A checkpoint cannot be read, is unsafe to read, or does not match the model."""


class UnsupportedOpError(SramflowError):
    """A graph contains an operator sramflow cannot import, quantize or cost."""


class GraphError(SramflowError):
    """A graph is malformed (missing tensors, bad shapes, cycles)."""


class HardwareSpecError(SramflowError):
    """A hardware description is invalid; the message names the field."""


class DataError(SramflowError):
    """A data set or image cannot be used."""


class MappingError(SramflowError):
    """A layer cannot be mapped onto the hardware (e.g. no tile fits the SRAM)."""


class QuantizationError(SramflowError):
    """A graph cannot be quantized as asked."""


class PrecisionError(SramflowError, ValueError):
    """A weight-precision spec (``--weight-bits``, a sweep's ``weight_bits``) is malformed; the message names the
    token. Also a ValueError: the sweep's parameter checks catch ValueError."""


class GraphMismatchError(SramflowError):
    """Two artefacts that must come from one graph (its quantized form, its schedules) come from different ones;
    the message names the command to rerun."""
