"""The application layer: what API routes, portal pages and CLI commands all
call to submit, review, approve, manage users and tokens, and read savings.
Imports jobs, config, queues and monitoring; never FastAPI, Jinja or typer."""
