"""The studio: a local web app over a workspace folder (see app.py, jobs.py, workspace.py)."""
