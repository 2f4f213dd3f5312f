"""Audio visualisers drawn straight into video frames with numpy."""
