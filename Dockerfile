# The service in production mode: migrate, train a model if none is active, serve.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    APP_ENV=production HOST=0.0.0.0 PORT=8000 INSTANCE_PATH=/app/instance

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY classifier/ classifier/
COPY service/ service/
COPY migrations/ migrations/
COPY training_data/ training_data/
COPY wsgi.py gunicorn.conf.py ./

RUN useradd --create-home --uid 10001 moderation && mkdir -p /app/instance \
    && chown moderation /app/instance
USER moderation
VOLUME /app/instance
EXPOSE 8000

# SECRET_KEY must be given at run time: start-up stops with a clear line without it.
# This is the web process. The worker (webhooks, training jobs, shadow scoring, retention)
# is a process of its own, so that the container runtime supervises each: run the same image
# with `flask --app wsgi worker` (deploy/compose.yaml and deploy/kubernetes do).
CMD ["sh", "-c", "flask --app wsgi db upgrade && flask --app wsgi model train --if-missing && exec gunicorn -c gunicorn.conf.py wsgi:app"]
