"""WSGI entry point, e.g. `gunicorn --threads 32 -w 1 wsgi:app` (one worker: Socket.IO needs sticky sessions)."""
from tracker import create_app

app = create_app()
