"""Sample data shipped with polyface: the demo persona dialogue (also the tests training data)."""
