"""Hardware description: SRAM macros, off-chip memory, MAC array, vector unit, clock. torch-free."""
