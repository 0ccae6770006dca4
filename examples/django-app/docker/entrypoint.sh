#!/bin/sh
# The pallet contract (docs/contract.md in the pallet-action repository): serve | deploy | test | worker | beat | anything else -> manage.py.
# Every branch ends in `exec`, so the real process replaces this shell and gets the SIGTERM that tini
# (PID 1, see Dockerfile) forwards from `docker stop`.
set -eu
cd /app

# Build arg FAULT (ENV PALLET_FAULT) = crash: long-running roles die after ~2 s, so a deploy sees a
# crash loop under `--restart unless-stopped`. Used by the action's end-to-end tests only.
crash_if_asked() {
    if [ "${PALLET_FAULT:-}" = crash ]; then
        echo "PALLET_FAULT=crash: $1 exits 1 in 2 seconds" >&2
        sleep 2
        exit 1
    fi
}

cmd="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$cmd" in
    serve)
        crash_if_asked serve
        # BOOT_DELAY (seconds, from the env file) stands in for an app that takes a while to boot:
        # nothing listens on 8000 until it has passed. Used by the action's end-to-end tests.
        [ "${BOOT_DELAY:-0}" = 0 ] || sleep "$BOOT_DELAY"
        # gunicorn stops gracefully on SIGTERM: workers finish in-flight requests within the timeout.
        exec python3 -m gunicorn example.wsgi:application \
            --bind 0.0.0.0:8000 \
            --workers "${WEB_CONCURRENCY:-2}" \
            --graceful-timeout "${GRACEFUL_TIMEOUT:-20}" \
            --worker-tmp-dir /dev/shm \
            --access-logfile - --error-logfile - \
            "$@"
        ;;
    deploy)
        # Release task, run once per deploy before any restart: migrations. Its exit code is migrate's, so a
        # failing migrate fails the deploy. Static files are not collected here: the image build did that
        # (see the Dockerfile), so they are already in /static.
        exec python3 manage.py migrate --noinput "$@"
        ;;
    test)
        # Exit code is manage.py test's own: 0 if and only if the suite passed. Extra args pass through
        # (test labels, --failfast, --parallel N, ...).
        export ENVIRONMENT="${ENVIRONMENT:-test}"
        exec python3 manage.py test --noinput "$@"
        ;;
    worker | beat)
        # Celery is not in the Debian base image; run_worker stands in (heartbeat loop, clean SIGTERM exit).
        crash_if_asked "$cmd"
        exec python3 manage.py run_worker --role "$cmd" "$@"
        ;;
    *)
        exec python3 manage.py "$cmd" "$@"
        ;;
esac
