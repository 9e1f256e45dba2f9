"""The web app: server-rendered pages over the same store the CLI uses."""
