import json
import os
import re
from io import StringIO
from unittest import mock

import fastslug
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError
from django.test import SimpleTestCase, TestCase, override_settings

from example.dburl import parse_database_url

from .models import Note


class DatabaseUrlTests(SimpleTestCase):
    def test_postgres_url(self):
        db = parse_database_url("postgres://app:s%40cret@pg-1a2b:5433/app?sslmode=require")
        self.assertEqual(db["ENGINE"], "django.db.backends.postgresql")
        self.assertEqual(
            (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]), ("app", "app", "s@cret", "pg-1a2b", "5433")
        )
        self.assertEqual(db["OPTIONS"], {"sslmode": "require", "connect_timeout": "5"})

    def test_postgis_and_sqlite(self):
        self.assertEqual(parse_database_url("postgis://u@h/db")["ENGINE"], "django.contrib.gis.db.backends.postgis")
        self.assertEqual(parse_database_url("postgis://u@h/db")["PORT"], "")
        self.assertEqual(parse_database_url("sqlite:////storage/x.sqlite3")["NAME"], "/storage/x.sqlite3")
        self.assertEqual(parse_database_url("sqlite://:memory:")["NAME"], ":memory:")

    def test_unknown_scheme(self):
        with self.assertRaisesRegex(ValueError, "unsupported database URL scheme 'mysql'"):
            parse_database_url("mysql://u@h/db")


class FastslugTests(SimpleTestCase):
    """The C extension from packages/fastslug, built into the wheelhouse."""

    def test_is_compiled(self):
        self.assertTrue(fastslug._fastslug.__file__.endswith(".so"), fastslug._fastslug.__file__)

    def test_slugify(self):
        cases = [
            ("Hello, World!", "hello-world"),
            ("  --Leading and trailing--  ", "leading-and-trailing"),
            ("Build 42: wheels & layers", "build-42-wheels-layers"),
            ("Crème brûlée", "cr-me-br-l-e"),
            ("", ""),
            ("!!!", ""),
        ]
        for text, slug in cases:
            with self.subTest(text=text):
                self.assertEqual(fastslug.slugify(text), slug)

    def test_slugify_rejects_bytes(self):
        with self.assertRaises(TypeError):
            fastslug.slugify(b"bytes")

    def test_fnv1a64_known_vectors(self):
        self.assertEqual(fastslug.fnv1a64(b""), 0xCBF29CE484222325)
        self.assertEqual(fastslug.fnv1a64(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(fastslug.fnv1a64("foobar"), 0x85944171F73967E8)
        self.assertEqual(fastslug.fnv1a64("é"), fastslug.fnv1a64("é".encode("utf-8")))


class NoteModelTests(TestCase):
    def test_create_and_read(self):
        Note.objects.create(text="First note: hello pallet")
        Note.objects.create(text="Second note")
        self.assertEqual(Note.objects.count(), 2)
        note = Note.objects.get(text__startswith="First")
        self.assertEqual(note.slug, "first-note-hello-pallet")
        self.assertEqual(note.checksum, f"{fastslug.fnv1a64(note.text):016x}")
        self.assertEqual([n.text for n in Note.objects.all()], ["Second note", "First note: hello pallet"])

    def test_summary_uses_notesutil(self):
        note = Note.objects.create(text="word " * 40)
        self.assertLessEqual(len(note.summary), 61)
        self.assertTrue(note.summary.endswith("…"))


class ViewTests(TestCase):
    def test_health_ok_queries_database(self):
        Note.objects.create(text="one")
        response = self.client.get("/health/")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["notes"], 1)
        self.assertEqual(body["version"], os.environ.get("APP_VERSION", "dev"))

    def test_health_503_when_database_down(self):
        with mock.patch("notes.views.Note.objects.count", side_effect=DatabaseError("connection refused")):
            with self.assertLogs("notes.views", level="WARNING"), self.assertLogs("django.request", level="ERROR"):
                response = self.client.get("/health/")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["database"], "down")

    @override_settings(PALLET_FAULT="health")
    def test_health_fault(self):
        with self.assertLogs("django.request", level="ERROR"):
            self.assertEqual(self.client.get("/health/").status_code, 500)

    @override_settings(APP_VERSION="build-7")
    def test_index_reports_version(self):
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["version"], "build-7")
        self.assertEqual(response["X-App-Version"], "build-7")

    def test_notes_api(self):
        created = self.client.post("/notes/", json.dumps({"text": "Ship it!"}), content_type="application/json")
        self.assertEqual(created.status_code, 201)
        self.assertEqual(created.json()["slug"], "ship-it")
        listed = self.client.get("/notes/").json()["notes"]
        self.assertEqual([n["text"] for n in listed], ["Ship it!"])
        bad = self.client.post("/notes/", "{}", content_type="application/json")
        self.assertEqual(bad.status_code, 400)


class HomePageTests(SimpleTestCase):
    """/home/ links the static files under the hashed names collectstatic wrote into the image.

    {% static %} reads them from STATIC_ROOT/staticfiles.json (ManifestStaticFilesStorage), so this
    runs in the built image, where the Dockerfile collected them into /static.
    """

    @override_settings(APP_VERSION="build-7")
    def test_home_links_hashed_static_files(self):
        response = self.client.get("/home/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["X-App-Version"], "build-7")
        self.assertTrue(response["Content-Type"].startswith("text/html"), response["Content-Type"])
        html = response.content.decode()
        self.assertRegex(html, r'<link rel="stylesheet" href="/static/notes/notes\.[0-9a-f]{12}\.css">')
        self.assertRegex(html, r'<script src="/static/notes/notes\.[0-9a-f]{12}\.js"')
        self.assertIn("build-7", html)

    def test_hashed_files_are_in_static_root(self):
        # The names the page links are files collectstatic wrote (what the proxy serves).
        html = self.client.get("/home/").content.decode()
        names = re.findall(r'"/static/(notes/notes\.[0-9a-f]{12}\.(?:css|js))"', html)
        self.assertEqual(len(names), 2, html)
        for name in names:
            with self.subTest(name=name):
                self.assertTrue(os.path.isfile(os.path.join(settings.STATIC_ROOT, name)), name)


class WorkerTests(TestCase):
    def test_worker_heartbeats_and_stops(self):
        out = StringIO()
        with self.assertLogs("notes.worker", level="INFO") as logs:
            call_command("run_worker", "--role", "beat", "--interval", "0", "--max-beats", "2", stdout=out)
        self.assertTrue(any("beat: heartbeat 2 (notes: 0)" in line for line in logs.output), logs.output)


class FaultInjectionTests(SimpleTestCase):
    def test_no_test_fault_baked_in(self):
        # Fails on purpose in an image built with FAULT=test (or with PALLET_EXAMPLE_FAIL_TEST=1):
        # the action's end-to-end tests use it to prove a failing suite fails the cleanroom run.
        fault = os.environ.get("PALLET_FAULT") == "test" or os.environ.get("PALLET_EXAMPLE_FAIL_TEST") == "1"
        self.assertFalse(fault, "deliberate failure: image built with FAULT=test")
