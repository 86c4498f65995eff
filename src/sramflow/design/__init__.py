"""Design advice: a priced search space of accelerators (area model in ``sramflow.hw.area``) evaluated with the
sweep machinery, for ``sramflow advise`` (issue 18)."""
