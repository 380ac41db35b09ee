"""Per-community settings (caps, rounding, point rules, policies)."""
