"""Price tables shipped as data (one JSON file per vendor whose model list carries no prices)."""
