"""Small widgets the views share (the empty state, the alerts bell)."""
