"""podforge: a written podcast script in, a finished episode out."""
