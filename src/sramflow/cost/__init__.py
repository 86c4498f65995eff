"""The cost layer below ``mapping``: action counts (``counts``), the hardware's per-action energy / latency table
built once from a ``HardwareSpec`` (``table``, Accelergy's energy reference table), and the model that turns counts
into busy cycles per resource and energy (``model``: energy = counts . table + static power x time)."""
