"""Mapping of graph nodes onto the SRAM: tilings, loop orders, buffer allocation, explicit schedules."""
